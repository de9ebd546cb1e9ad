namespace Kv.Node.Raft;

/// <summary>Recoverable outcomes of reading the stable log.</summary>
internal enum StorageStatus
{
    Ok,

    /// <summary>The requested index is at or below the last compaction (only a snapshot covers it).</summary>
    Compacted,

    /// <summary>The requested index is beyond the last stable entry.</summary>
    Unavailable,
}

/// <summary>
/// The core's read-only view of stable storage (etcd's Storage interface). The core never writes
/// through it: the host persists each Ready (snapshot, then entries, then hard state) itself, so a
/// persistent implementation can stage those writes in the same write batch as the application's
/// apply state and commit them with one sync. Contract for implementations:
/// 1. Reads reflect every Ready the host has persisted and nothing it has not.
/// 2. Index FirstIndex()-1 is the last compacted index; Term() answers it from snapshot metadata.
/// 3. LastIndex() >= FirstIndex()-1; an empty log has LastIndex() == FirstIndex()-1.
/// </summary>
internal interface IRaftStorage
{
    /// <summary>The persisted hard state and the configuration of the latest snapshot plus applied conf changes.</summary>
    (HardState HardState, ConfState ConfState) InitialState();

    /// <summary>Appends entries [lo, hi) to output, stopping once maxSize bytes are exceeded (at least one entry).</summary>
    StorageStatus Entries(ulong lo, ulong hi, ulong maxSize, List<Entry> output);

    /// <summary>Term of the entry at index, for index in [FirstIndex()-1, LastIndex()].</summary>
    StorageStatus Term(ulong index, out ulong term);

    ulong FirstIndex();

    ulong LastIndex();

    /// <summary>The most recent snapshot; the leader sends it to followers that need compacted entries.</summary>
    Snapshot Snapshot();
}
