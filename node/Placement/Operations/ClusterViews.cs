using System.Collections.Immutable;
using Kv.Client;
using Kv.Node.Placement.Operations.Planning;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations;

/// <summary>
/// Builds the planner's <see cref="ClusterView"/> from what the placement leader knows: the
/// replicated state (stores, admin states, maintenance windows, the range directory, the
/// replication factor) and this term's soft state (store liveness, range leaders and sizes).
/// Pure given its arguments: the clock is a parameter.
/// </summary>
internal static class ClusterViews
{
    /// <summary>The view at <paramref name="nowMs"/>.</summary>
    public static ClusterView Build(PlacementSnapshot snapshot, LeaderSession session, long nowMs)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(session);
        var replicaCounts = new Dictionary<ulong, int>();
        var leaderCounts = new Dictionary<ulong, int>();
        var ranges = new List<RangeView>(snapshot.RangesById.Count);
        foreach (var range in snapshot.RangesById.Values)
        {
            var reported = session.RangeLeaders.Get(range.RangeId);
            // A leader report for an older epoch still names a replica that may lead; one whose
            // replica is gone from the descriptor names nobody.
            ulong leader = reported is not null && range.Replicas.Any(r => r.ReplicaId == reported.Leader.ReplicaId) ? reported.Leader.ReplicaId : 0;
            // Learners exist only while an add or move catches them up: a change is in flight.
            bool inFlight = range.Replicas.Any(r => r.Role == ReplicaRole.Learner);
            ranges.Add(RangeView.FromDescriptor(range, new ReplicaId(leader), reported?.ApproximateSizeBytes ?? 0, inFlight));
            foreach (var r in range.Replicas)
            {
                replicaCounts[r.StoreId] = replicaCounts.GetValueOrDefault(r.StoreId) + 1;
                if (r.ReplicaId == leader)
                {
                    leaderCounts[r.StoreId] = leaderCounts.GetValueOrDefault(r.StoreId) + 1;
                }
            }
        }

        var stores = new List<StoreView>(snapshot.Stores.Count);
        foreach (var (id, store) in snapshot.Stores)
        {
            var liveness = session.Liveness.Get(id, nowMs);
            bool up = liveness.State == StoreState.Up;
            long downSince = up ? 0 : liveness.LastHeartbeatMs != 0 ? liveness.LastHeartbeatMs : session.Liveness.TakeoverMs;
            stores.Add(new StoreView(
                new StoreId(id),
                store.Labels.ToImmutableSortedDictionary(StringComparer.Ordinal),
                up ? Liveness.Up : Liveness.Down,
                snapshot.StoreAdminState(id),
                snapshot.InMaintenance(id, nowMs),
                // Counted from the directory, not the heartbeat: the planner's counts must agree with the ranges it sees.
                replicaCounts.GetValueOrDefault(id),
                leaderCounts.GetValueOrDefault(id),
                liveness.Stats?.CapacityBytes ?? 0,
                liveness.Stats?.AvailableBytes ?? 0,
                downSince));
        }

        return ClusterView.Create(stores, ranges, (int)snapshot.ReplicationFactor) with
        {
            Splits = [.. snapshot.Ops.Splits.Values.Select(r => new SplitView(new RangeId(r.Origin.LeftRangeId), new RangeId(r.RightRangeId), r.Origin.Reason, r.Origin.AtMs))],
        };
    }
}
