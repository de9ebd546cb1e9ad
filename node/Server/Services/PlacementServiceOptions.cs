namespace Kv.Node.Server.Services;

/// <summary>Tunables of <see cref="PlacementService"/>.</summary>
public sealed class PlacementServiceOptions
{
    /// <summary>A store with no heartbeat for this long is Down.</summary>
    public TimeSpan StoreLivenessTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How far ahead of the clock each persisted TSO window reaches.</summary>
    public TimeSpan TsoWindow { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// The TSO lease L (node/Placement/TsoLease.cs): a quorum heartbeat round lets the leader serve
    /// for this long; a new leader waits L * (1 + drift) / (1 - drift) before its first timestamp.
    /// </summary>
    public TimeSpan TsoLease { get; init; } = TimeSpan.FromMilliseconds(Kv.Node.Placement.TsoLease.DefaultLeaseMs);

    /// <summary>The bound on any placement member's monotonic clock rate error (0.1 = 10 %) the TSO lease assumes.</summary>
    public double TsoMaxClockDrift { get; init; } = Kv.Node.Placement.TsoLease.DefaultMaxDriftRate;

    /// <summary>Tests only, the negative control: serve timestamps without the lease (unsafe under pauses and partitions).</summary>
    internal bool UnsafeTsoWithoutLease { get; init; }

    /// <summary>Largest AllocId count (at most the state machine's 10,000).</summary>
    public uint MaxAllocIdCount { get; init; } = 10_000;

    /// <summary>Largest GetTimestamp count.</summary>
    public uint MaxTimestampCount { get; init; } = 1 << 20;

    /// <summary>How long a request may wait for a proposal or a read barrier before it gets UNAVAILABLE.</summary>
    public TimeSpan ProposalTimeout { get; init; } = TimeSpan.FromSeconds(10);

    internal void Validate()
    {
        Check(StoreLivenessTimeout > TimeSpan.Zero, nameof(StoreLivenessTimeout), "must be positive");
        Check(TsoWindow >= TimeSpan.FromMilliseconds(1), nameof(TsoWindow), "must be at least 1 ms");
        Check(TsoLease >= TimeSpan.FromMilliseconds(1), nameof(TsoLease), "must be at least 1 ms");
        Check(TsoMaxClockDrift is >= 0 and < 0.5, nameof(TsoMaxClockDrift), "must be at least 0 and below 0.5");
        Check(MaxAllocIdCount is > 0 and <= Kv.Node.Placement.PlacementState.MaxAllocIdCount, nameof(MaxAllocIdCount),
            $"must be 1 to {Kv.Node.Placement.PlacementState.MaxAllocIdCount}");
        Check(MaxTimestampCount > 0, nameof(MaxTimestampCount), "must be positive");
        Check(ProposalTimeout > TimeSpan.Zero, nameof(ProposalTimeout), "must be positive");
    }

    private static void Check(bool ok, string name, string what)
    {
        if (!ok)
        {
            throw new ArgumentException($"PlacementServiceOptions.{name} {what}", name);
        }
    }
}
