using Kv.Proto.V1;

namespace Kv.Node.Ranges.Changes;

/// <summary>What placement says about a store a step wants to put a replica on (Known false: KnownStores lists the ones it knows).</summary>
internal sealed record TargetStore(bool Known, StoreState State, string KnownStores);

/// <summary>
/// What the replica-change engine needs from placement, implemented by the node's placement
/// client (Ranges does not know RPC plumbing). Every call may retry internally until ct fires.
/// </summary>
internal interface IChangePlacement
{
    /// <summary>Allocates count consecutive cluster-wide ids: the first, or Error (why not; retryable).</summary>
    Task<(ulong First, string? Error)> AllocIdsAsync(uint count, CancellationToken ct);

    /// <summary>The store as placement knows it (and teaches the node its address); null when placement could not answer.</summary>
    Task<TargetStore?> DescribeStoreAsync(ulong storeId, CancellationToken ct);

    /// <summary>
    /// Best effort: reports a range's new descriptor now rather than at the next range heartbeat.
    /// <paramref name="split"/> is given only by the automatic split path, for the right half of
    /// its split (placement records it for the scheduler's scatter rule); null otherwise.
    /// </summary>
    Task ReportRangeAsync(RangeDescriptor range, ReplicaDescriptor leader, CancellationToken ct, SplitOrigin? split = null);
}
