namespace Kv.Workload;

/// <summary>The transactional store the workloads run against: the cluster (KvClientTxnStore) or
/// an in-memory model (MemoryTxnStore).</summary>
public interface ITxnStore
{
    Task<ITxn> BeginAsync(CancellationToken cancellationToken = default);
}

/// <summary>One snapshot-isolation transaction. Disposing an uncommitted one rolls it back.</summary>
public interface ITxn : IAsyncDisposable
{
    ulong StartTs { get; }

    Task<byte[]?> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<KeyValuePair<byte[], byte[]>>> ScanAsync(
        ReadOnlyMemory<byte> start, ReadOnlyMemory<byte> end, int limit, bool reverse = false, CancellationToken cancellationToken = default);

    void Put(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value);

    void Delete(ReadOnlyMemory<byte> key);

    /// <summary>Commits; returns the commit timestamp.</summary>
    Task<ulong> CommitAsync(CancellationToken cancellationToken = default);

    Task RollbackAsync(CancellationToken cancellationToken = default);
}

public enum TxnFailure
{
    /// <summary>The transaction certainly did not commit (conflict, lock, abort, refused).</summary>
    Definite,

    /// <summary>The commit may or may not have taken effect.</summary>
    Unknown,
}

/// <summary>What an ITxn throws; Failure says whether the outcome is known.</summary>
public sealed class TxnStoreException : Exception
{
    public TxnStoreException()
        : this(TxnFailure.Definite, "the transaction failed")
    {
    }

    public TxnStoreException(string message)
        : this(TxnFailure.Definite, message)
    {
    }

    public TxnStoreException(string message, Exception innerException)
        : this(TxnFailure.Definite, message, innerException)
    {
    }

    public TxnStoreException(TxnFailure failure, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
    }

    public TxnFailure Failure { get; }
}
