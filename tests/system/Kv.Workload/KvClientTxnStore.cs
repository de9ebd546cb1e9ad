using Kv.Client.Cluster;

namespace Kv.Workload;

/// <summary>ITxnStore over the cluster: Kv.Client transactions. Maps KvException kinds to
/// TxnStoreException: CommitOutcomeUnknown (and any failure of CommitAsync that is not a
/// definite refusal) is Unknown; everything else is Definite.</summary>
public sealed class KvClientTxnStore : ITxnStore, IAsyncDisposable
{
    private readonly KvClient _client;

    public KvClientTxnStore(KvClient client)
    {
        _client = client;
    }

    public static ITxnStore Open(IReadOnlyList<string> endpoints) =>
        new KvClientTxnStore(KvClient.Connect(endpoints, new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(8) }));

    public async Task<ITxn> BeginAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return new Txn(await _client.BeginAsync(cancellationToken));
        }
        catch (KvException ex)
        {
            throw new TxnStoreException(TxnFailure.Definite, $"begin failed ({ex.Kind}): {ex.Message}", ex);
        }
    }

    public ValueTask DisposeAsync() => _client.DisposeAsync();

    /// <summary>Refusals after which the transaction certainly did not commit.</summary>
    private static bool Definite(KvErrorKind kind) =>
        kind is KvErrorKind.WriteConflict or KvErrorKind.KeyIsLocked or KvErrorKind.TxnAborted or KvErrorKind.InvalidArgument or KvErrorKind.Refused;

    private sealed class Txn(Transaction txn) : ITxn
    {
        public ulong StartTs => txn.StartTs.Value;

        public async Task<byte[]?> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default)
        {
            try
            {
                return await txn.GetAsync(key, cancellationToken);
            }
            catch (KvException ex)
            {
                throw new TxnStoreException(TxnFailure.Definite, $"get failed ({ex.Kind}): {ex.Message}", ex);
            }
        }

        public async Task<IReadOnlyList<KeyValuePair<byte[], byte[]>>> ScanAsync(
            ReadOnlyMemory<byte> start, ReadOnlyMemory<byte> end, int limit, bool reverse = false, CancellationToken cancellationToken = default)
        {
            try
            {
                return await txn.ScanAsync(start, end, limit, reverse, cancellationToken);
            }
            catch (KvException ex)
            {
                throw new TxnStoreException(TxnFailure.Definite, $"scan failed ({ex.Kind}): {ex.Message}", ex);
            }
        }

        public void Put(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value) => txn.Put(key, value);

        public void Delete(ReadOnlyMemory<byte> key) => txn.Delete(key);

        public async Task<ulong> CommitAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return (await txn.CommitAsync(cancellationToken)).Value;
            }
            catch (KvException ex)
            {
                // CommitOutcomeUnknown, Unavailable, Internal...: the primary may have committed.
                throw new TxnStoreException(Definite(ex.Kind) ? TxnFailure.Definite : TxnFailure.Unknown, $"commit failed ({ex.Kind}): {ex.Message}", ex);
            }
        }

        public async Task RollbackAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                await txn.RollbackAsync(cancellationToken);
            }
            catch (KvException)
            {
                // Best effort: an unresolved lock is resolved by later readers (TTL).
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await txn.DisposeAsync();
            }
            catch (KvException)
            {
                // Best effort, as RollbackAsync.
            }
        }
    }
}
