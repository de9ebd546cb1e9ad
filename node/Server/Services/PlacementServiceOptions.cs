namespace Kv.Node.Server.Services;

/// <summary>Tunables of <see cref="PlacementService"/>.</summary>
public sealed class PlacementServiceOptions
{
    /// <summary>A store with no heartbeat for this long is Down.</summary>
    public TimeSpan StoreLivenessTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How far ahead of the clock each persisted TSO window reaches.</summary>
    public TimeSpan TsoWindow { get; init; } = TimeSpan.FromSeconds(3);

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
