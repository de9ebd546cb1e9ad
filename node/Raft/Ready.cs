namespace Kv.Node.Raft;

internal enum RaftRole : byte
{
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// <summary>Volatile state worth telling the host about: who leads, and our own role.</summary>
internal readonly record struct SoftState(ulong Lead, RaftRole Role);

/// <summary>The answer to a ReadIndex request: the read is linearizable once Index has been applied.</summary>
internal readonly record struct ReadState(ulong Index, ulong Context);

/// <summary>
/// Everything the host must do for the core, in the order RaftNode's contract gives (persist,
/// send, apply, Advance). Collections are owned by the host once handed out.
/// </summary>
internal sealed class Ready
{
    /// <summary>Non-null when leader or role changed since the last Ready.</summary>
    public SoftState? SoftState { get; init; }

    /// <summary>Non-null when term, vote or commit changed; persist before sending Messages.</summary>
    public HardState? HardState { get; init; }

    /// <summary>Entries to append to stable storage (may overwrite a suffix); persist before sending Messages.</summary>
    public IReadOnlyList<Entry> Entries { get; init; } = [];

    /// <summary>A snapshot received from the leader, to persist and install (before Entries).</summary>
    public Snapshot? Snapshot { get; init; }

    /// <summary>Committed entries to apply, in order, after persisting.</summary>
    public IReadOnlyList<Entry> CommittedEntries { get; init; } = [];

    /// <summary>Messages to send, after persisting.</summary>
    public IReadOnlyList<Message> Messages { get; init; } = [];

    /// <summary>Answered ReadIndex requests.</summary>
    public IReadOnlyList<ReadState> ReadStates { get; init; } = [];

    /// <summary>Whether the writes of this Ready must be synced to disk before sending (term, vote or entries changed).</summary>
    public bool MustSync { get; init; }
}
