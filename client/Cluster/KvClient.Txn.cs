namespace Kv.Client.Cluster;

/// <summary>Transactions (Transaction.cs, LockResolver.cs).</summary>
public sealed partial class KvClient
{
    private LockResolver? _lockResolver;

    /// <summary>Resolves other transactions' locks; also usable to check an in-doubt transaction's fate.</summary>
    public LockResolver LockResolver => LazyInitializer.EnsureInitialized(ref _lockResolver, () => new LockResolver(this));

    /// <summary>Starts a snapshot-isolated transaction; its start_ts comes from the TSO.</summary>
    public async Task<Transaction> BeginAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposeStarted) != 0, this);
        var startTs = await GetTimestampAsync(ct).ConfigureAwait(false);
        return new Transaction(this, startTs);
    }
}
