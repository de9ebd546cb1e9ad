using System.Collections.Immutable;
using Kv.Client;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations.Planning;

// The planner's input: an immutable picture of the cluster at one instant. The executor builds it
// from the placement snapshot (stores, liveness, the range directory, leader hints, sizes); the
// planner, preflight, progress and scheduler rules only read it. Nothing here reads a clock:
// "in maintenance" and "down since" are already resolved against the caller's now.

/// <summary>A store's liveness as the placement leader sees it.</summary>
internal enum Liveness
{
    Up,
    Down,
}

/// <summary>A range epoch (shared/DESIGN.md section 5): ConfVer bumps on membership changes, Version on splits and merges.</summary>
internal readonly record struct Epoch(ulong ConfVer, ulong Version)
{
    public static Epoch FromProto(RangeEpoch? epoch) => epoch is null ? default : new(epoch.ConfVer, epoch.Version);

    public RangeEpoch ToProto() => new() { ConfVer = ConfVer, Version = Version };

    public override string ToString() => $"(conf_ver {ConfVer}, version {Version})";
}

/// <summary>One store.</summary>
/// <param name="Id">The store.</param>
/// <param name="Labels">Location labels (zone, rack, host, ...); empty: the store is its own failure domain.</param>
/// <param name="Liveness">Up or Down by heartbeat.</param>
/// <param name="AdminState">Active, Draining, Drained or Removed.</param>
/// <param name="InMaintenance">An operator's maintenance window covers now: no replacement, no new replicas.</param>
/// <param name="ReplicaCount">Replicas it holds (from its heartbeat).</param>
/// <param name="LeaderCount">Range leaders it holds (from its heartbeat).</param>
/// <param name="CapacityBytes">Disk capacity.</param>
/// <param name="AvailableBytes">Free disk.</param>
/// <param name="DownSinceMs">Down: the Unix ms of its last heartbeat (or the leader's takeover); 0 when Up.</param>
internal sealed record StoreView(
    StoreId Id,
    ImmutableSortedDictionary<string, string> Labels,
    Liveness Liveness,
    StoreAdminState AdminState,
    bool InMaintenance,
    int ReplicaCount,
    int LeaderCount,
    ulong CapacityBytes,
    ulong AvailableBytes,
    long DownSinceMs = 0)
{
    public bool IsUp => Liveness == Liveness.Up;
}

/// <summary>One replica of a range.</summary>
internal readonly record struct ReplicaView(ReplicaId Id, StoreId Store, bool IsVoter);

/// <summary>One range, as the range directory last heard it.</summary>
/// <param name="Id">The range.</param>
/// <param name="StartKey">First user key (inclusive).</param>
/// <param name="EndKey">End user key (exclusive); empty: the end of the key space.</param>
/// <param name="Epoch">Its epoch.</param>
/// <param name="Replicas">Voters and learners.</param>
/// <param name="Leader">The leader's replica id if known, else default (0).</param>
/// <param name="ApproximateBytes">Approximate size.</param>
/// <param name="ChangeInFlight">A membership change (learner catching up, joint configuration) is in progress.</param>
internal sealed record RangeView(
    RangeId Id,
    ImmutableArray<byte> StartKey,
    ImmutableArray<byte> EndKey,
    Epoch Epoch,
    ImmutableArray<ReplicaView> Replicas,
    ReplicaId Leader,
    ulong ApproximateBytes,
    bool ChangeInFlight)
{
    /// <summary>Builds a view from a descriptor of the range directory.</summary>
    public static RangeView FromDescriptor(RangeDescriptor descriptor, ReplicaId leader, ulong approximateBytes, bool changeInFlight)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var replicas = descriptor.Replicas
            .Select(r => new ReplicaView(new ReplicaId(r.ReplicaId), new StoreId(r.StoreId), r.Role == ReplicaRole.Voter))
            .ToImmutableArray();
        return new RangeView(
            new RangeId(descriptor.RangeId),
            [.. descriptor.StartKey.Span],
            [.. descriptor.EndKey.Span],
            Epoch.FromProto(descriptor.Epoch),
            replicas,
            leader,
            approximateBytes,
            changeInFlight);
    }

    public IEnumerable<StoreId> VoterStores => Replicas.Where(r => r.IsVoter).Select(r => r.Store);

    /// <summary>The replica on <paramref name="store"/>, if any.</summary>
    public ReplicaView? ReplicaOn(StoreId store)
    {
        foreach (var replica in Replicas)
        {
            if (replica.Store == store)
            {
                return replica;
            }
        }

        return null;
    }

    /// <summary>The store of the leader, or default (0) when unknown.</summary>
    public StoreId LeaderStore
    {
        get
        {
            foreach (var replica in Replicas)
            {
                if (replica.Id == Leader && Leader.Value != 0)
                {
                    return replica.Store;
                }
            }

            return default;
        }
    }

    /// <summary>Whether <paramref name="key"/> lies strictly inside the range: after its start key and before its end.</summary>
    public bool ContainsStrictly(ReadOnlySpan<byte> key) =>
        key.SequenceCompareTo(StartKey.AsSpan()) > 0 && (EndKey.IsEmpty || key.SequenceCompareTo(EndKey.AsSpan()) < 0);

    /// <summary>Whether <paramref name="key"/> lies in [start, end).</summary>
    public bool Contains(ReadOnlySpan<byte> key) =>
        key.SequenceCompareTo(StartKey.AsSpan()) >= 0 && (EndKey.IsEmpty || key.SequenceCompareTo(EndKey.AsSpan()) < 0);
}

/// <summary>The whole picture the planner works from.</summary>
/// <param name="Stores">Every known store, Removed ones included (so a reference to one is answered precisely).</param>
/// <param name="Ranges">Every range of the directory.</param>
/// <param name="ReplicationFactor">Voters each range should have.</param>
/// <param name="LocationLabels">Label names from coarsest to finest (default zone, rack, host).</param>
internal sealed record ClusterView(
    ImmutableSortedDictionary<StoreId, StoreView> Stores,
    ImmutableSortedDictionary<RangeId, RangeView> Ranges,
    int ReplicationFactor,
    ImmutableArray<string> LocationLabels)
{
    /// <summary>Automatic (size or load) splits placement recorded, right half by right half: what the scheduler scatters.</summary>
    public ImmutableArray<SplitView> Splits { get; init; } = [];

    /// <summary>The default label order, coarsest first.</summary>
    public static readonly ImmutableArray<string> DefaultLocationLabels = ["zone", "rack", "host"];

    /// <summary>Builds a view; stores and ranges are keyed by id.</summary>
    public static ClusterView Create(IEnumerable<StoreView> stores, IEnumerable<RangeView> ranges, int replicationFactor = 3, ImmutableArray<string> locationLabels = default) =>
        new(
            stores.ToImmutableSortedDictionary(s => s.Id, s => s, StoreIdComparer.Instance),
            ranges.ToImmutableSortedDictionary(r => r.Id, r => r, RangeIdComparer.Instance),
            replicationFactor,
            locationLabels.IsDefaultOrEmpty ? DefaultLocationLabels : locationLabels);

    /// <summary>A copy with <paramref name="range"/> replacing the range of the same id.</summary>
    public ClusterView WithRange(RangeView range) => this with { Ranges = Ranges.SetItem(range.Id, range) };
}

/// <summary>An automatic split: <paramref name="Left"/> kept the left half, <paramref name="Right"/> is the new right half.</summary>
/// <param name="Left">The range that was split.</param>
/// <param name="Right">The new range (the right half).</param>
/// <param name="Reason">Size or load (operator splits are never recorded).</param>
/// <param name="AtMs">When it split (Unix ms, the reporting node's clock).</param>
internal readonly record struct SplitView(RangeId Left, RangeId Right, SplitReason Reason, long AtMs);

/// <summary>Orders store ids numerically (the planner's deterministic tie-break).</summary>
internal sealed class StoreIdComparer : IComparer<StoreId>
{
    public static readonly StoreIdComparer Instance = new();

    public int Compare(StoreId x, StoreId y) => x.Value.CompareTo(y.Value);
}

/// <summary>Orders range ids numerically.</summary>
internal sealed class RangeIdComparer : IComparer<RangeId>
{
    public static readonly RangeIdComparer Instance = new();

    public int Compare(RangeId x, RangeId y) => x.Value.CompareTo(y.Value);
}
