using Google.Protobuf;
using Grpc.Core;
using Kv.Bench.Cluster;
using Kv.Bench.Etcd;

namespace Kv.Bench.Txn;

/// <summary>
/// The three workloads on etcd's KV.Txn, sent to the leader over the cluster's one channel.
/// (a) a Txn with no compare and one put; (b) compare-and-swap on two keys: a read-only Txn reads
/// both accounts (linearizable), then a Txn whose compares require both keys' mod_revision to be
/// what was read puts both new balances; a failed compare counts as a retry and starts over with a
/// fresh read (etcd's clientv3 concurrency.STM likewise re-runs a transaction whose compare failed); (c) a read-only Txn of two Range ops with
/// serializable = false (linearizable, one revision for both).
/// </summary>
internal sealed class EtcdTxn(EtcdCluster cluster) : ITxnSystem
{
    public string Name => cluster.Name;

    public IBenchSystem Cluster => cluster;

    public async Task<int> PutAsync(byte[] key, byte[] value, CancellationToken cancellationToken)
    {
        var request = new TxnRequest { Success = { PutOp(key, value) } };
        var response = await cluster.KvStub.TxnAsync(request, new CallOptions(cancellationToken: cancellationToken));
        return response.Succeeded
            ? 0
            : throw new InvalidOperationException("etcd: a Txn without compares answered succeeded = false");
    }

    public async Task<int> TransferAsync(byte[] from, byte[] to, long amount, CancellationToken cancellationToken)
    {
        var options = new CallOptions(cancellationToken: cancellationToken);
        for (var retries = 0; ; retries++)
        {
            var read = await cluster.KvStub.TxnAsync(ReadPair(from, to), options);
            var a = Single(read, 0, from);
            var b = Single(read, 1, to);
            var swap = new TxnRequest
            {
                Compare = { ModEquals(from, a.ModRevision), ModEquals(to, b.ModRevision) },
                Success =
                {
                    PutOp(from, Account.WithBalance(a.Value.Span, Account.Balance(a.Value.Span) - amount)),
                    PutOp(to, Account.WithBalance(b.Value.Span, Account.Balance(b.Value.Span) + amount)),
                },
            };
            var response = await cluster.KvStub.TxnAsync(swap, options);
            if (response.Succeeded)
            {
                return retries;
            }
        }
    }

    public async Task<(int Retries, int LengthA, int LengthB)> ReadPairAsync(byte[] a, byte[] b, CancellationToken cancellationToken)
    {
        var response = await cluster.KvStub.TxnAsync(ReadPair(a, b), new CallOptions(cancellationToken: cancellationToken));
        return (0, Length(response, 0), Length(response, 1));
    }

    private static TxnRequest ReadPair(byte[] a, byte[] b) => new()
    {
        Success =
        {
            new RequestOp { RequestRange = new RangeRequest { Key = UnsafeByteOperations.UnsafeWrap(a) } },
            new RequestOp { RequestRange = new RangeRequest { Key = UnsafeByteOperations.UnsafeWrap(b) } },
        },
    };

    private static RequestOp PutOp(byte[] key, byte[] value) =>
        new() { RequestPut = new PutRequest { Key = UnsafeByteOperations.UnsafeWrap(key), Value = UnsafeByteOperations.UnsafeWrap(value) } };

    private static Compare ModEquals(byte[] key, long modRevision) => new()
    {
        Result = Compare.Types.CompareResult.Equal,
        Target = Compare.Types.CompareTarget.Mod,
        Key = UnsafeByteOperations.UnsafeWrap(key),
        ModRevision = modRevision,
    };

    private static int Length(TxnResponse response, int index) =>
        response.Responses.Count > index && response.Responses[index].ResponseRange is { } range
            ? (range.Kvs.Count == 0 ? -1 : range.Kvs[0].Value.Length)
            : throw new InvalidOperationException($"etcd: a read-only Txn of 2 ranges answered {response.Responses.Count} responses, without a range response at {index}");

    private static KeyValue Single(TxnResponse response, int index, byte[] key) =>
        Length(response, index) >= 0
            ? response.Responses[index].ResponseRange.Kvs[0]
            : throw new InvalidOperationException($"etcd: account {System.Text.Encoding.ASCII.GetString(key)} is absent: the transfer is not reading what the preload wrote");
}
