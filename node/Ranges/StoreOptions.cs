namespace Kv.Node.Ranges;

/// <summary>Timing, log compaction and snapshot limits of a store's Raft groups. Ticks are shared by every group of the store.</summary>
internal sealed record StoreOptions
{
    /// <summary>Length of one Raft tick.</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Ticks without a leader before a follower campaigns (randomized in [E, 2E)).</summary>
    public int ElectionTicks { get; init; } = 10;

    /// <summary>Ticks between a leader's heartbeats.</summary>
    public int HeartbeatTicks { get; init; } = 1;

    /// <summary>Ticks a ReadIndex request may stay unanswered before its readers are told to retry.</summary>
    public int ReadTimeoutTicks { get; init; } = 30;

    /// <summary>
    /// A range group compacts its log once it holds more than this many applied entries
    /// (applied - first index). The placement group never compacts (it has no snapshots).
    /// </summary>
    public ulong RaftLogCompactThreshold { get; init; } = 10_000;

    /// <summary>
    /// On a leader, a follower whose match index is at most this many entries behind the applied
    /// index holds compaction back (it catches up from the log); one further behind is ignored
    /// and gets a snapshot. Defaults to the compaction threshold when 0.
    /// </summary>
    public ulong RaftLogMaxLagEntries { get; init; }

    /// <summary>
    /// For this many ticks after becoming leader, a follower whose match index is still 0 (not
    /// known yet, as for every follower right after an election) stops the leader compacting;
    /// after that it counts as far behind. Defaults to twice ElectionTicks when 0.
    /// </summary>
    public int NewLeaderCompactionDelayTicks { get; init; }

    /// <summary>Snapshots this store sends at once, and separately receives at once (one limit each, this number); more are refused and retried.</summary>
    public int MaxConcurrentSnapshots { get; init; } = 4;
}
