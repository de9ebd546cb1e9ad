using Kv.Bench.Cluster;
using Kv.Client.Cluster;

namespace Kv.Bench.Txn;

/// <summary>
/// The three workloads on kv-node's transactions (issue 7), through the cluster's one
/// <see cref="KvClient"/>: (a) begin, put, commit; (b) begin, get both accounts at the start
/// timestamp, put both new balances, commit; (c) begin, get both keys, end without writes (a
/// read-only transaction reads one snapshot, the start timestamp). A WriteConflict, KeyIsLocked or
/// TxnAborted failure counts as a retry and starts a fresh transaction; CommitOutcomeUnknown and
/// anything else fails the operation (counted, not timed).
/// </summary>
internal sealed class KvNodeTxn(KvNodeCluster cluster) : ITxnSystem
{
    public string Name => cluster.Name;

    public IBenchSystem Cluster => cluster;

    public async Task<int> PutAsync(byte[] key, byte[] value, CancellationToken cancellationToken)
    {
        for (var retries = 0; ; retries++)
        {
            await using var txn = await cluster.Client.BeginAsync(cancellationToken);
            txn.Put(key, value);
            try
            {
                await txn.CommitAsync(cancellationToken);
                return retries;
            }
            catch (KvException e) when (Retryable(e))
            {
            }
        }
    }

    public async Task<int> TransferAsync(byte[] from, byte[] to, long amount, CancellationToken cancellationToken)
    {
        for (var retries = 0; ; retries++)
        {
            await using var txn = await cluster.Client.BeginAsync(cancellationToken);
            try
            {
                var a = await txn.GetAsync(from, cancellationToken) ?? throw Absent(from);
                var b = await txn.GetAsync(to, cancellationToken) ?? throw Absent(to);
                txn.Put(from, Account.WithBalance(a, Account.Balance(a) - amount));
                txn.Put(to, Account.WithBalance(b, Account.Balance(b) + amount));
                await txn.CommitAsync(cancellationToken);
                return retries;
            }
            catch (KvException e) when (Retryable(e))
            {
            }
        }
    }

    public async Task<(int Retries, int LengthA, int LengthB)> ReadPairAsync(byte[] a, byte[] b, CancellationToken cancellationToken)
    {
        for (var retries = 0; ; retries++)
        {
            // Disposed without a commit: a read-only transaction has nothing to commit.
            await using var txn = await cluster.Client.BeginAsync(cancellationToken);
            try
            {
                var va = await txn.GetAsync(a, cancellationToken);
                var vb = await txn.GetAsync(b, cancellationToken);
                return (retries, va?.Length ?? -1, vb?.Length ?? -1);
            }
            catch (KvException e) when (Retryable(e))
            {
            }
        }
    }

    private static bool Retryable(KvException e) =>
        e.Kind is KvErrorKind.WriteConflict or KvErrorKind.KeyIsLocked or KvErrorKind.TxnAborted;

    private static InvalidOperationException Absent(byte[] key) =>
        new($"kv-node: account {System.Text.Encoding.ASCII.GetString(key)} is absent: the transfer is not reading what the preload wrote");
}
