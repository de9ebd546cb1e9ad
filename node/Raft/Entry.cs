namespace Kv.Node.Raft;

/// <summary>What an entry carries: an application command, or a membership change for the core.</summary>
internal enum EntryType : byte
{
    Normal = 0,
    ConfChange = 1,
}

/// <summary>
/// One log entry. Immutable: the same instance may sit in several nodes' logs and in messages.
/// Data is owned by whoever proposed it and must not be mutated after proposing.
/// </summary>
internal readonly record struct Entry(ulong Term, ulong Index, EntryType Type, ReadOnlyMemory<byte> Data)
{
    /// <summary>Fixed per-entry overhead counted against size limits, on top of the payload.</summary>
    public const int Overhead = 24;

    /// <summary>Bytes this entry counts for against MaxSizePerMsg and MaxCommittedSizePerReady.</summary>
    public ulong Size => (ulong)(Data.Length + Overhead);
}
