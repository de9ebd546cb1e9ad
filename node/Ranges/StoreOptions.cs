namespace Kv.Node.Ranges;

/// <summary>Timing of a store's Raft groups. Ticks are shared by every group of the store.</summary>
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
}
