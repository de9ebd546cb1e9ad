using Kv.Client;
using Kv.Node.Placement.Operations.Planning;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Scheduler;

/// <summary>The scheduler's knobs (kvctl scheduler, kv-node serve flags).</summary>
/// <param name="Paused">kvctl scheduler pause: decide nothing.</param>
/// <param name="StoreDownReplaceAfterMs">A store Down this long (and not in maintenance) has its replicas replaced.</param>
/// <param name="MaxSnapshotsPerStore">Moves and adds in flight into one store at most (each streams a snapshot into it).</param>
/// <param name="MinBalanceSpread">Counts are balanced only when max - min exceeds max(this, BalanceSpreadPercent of the mean).</param>
/// <param name="BalanceSpreadPercent">The proportional part of the balance tolerance.</param>
/// <param name="ScatterWindowMs">An automatic split's halves are scattered for this long after the split; older splits are left to balancing.</param>
internal sealed record SchedulerSettings(
    bool Paused = false,
    long StoreDownReplaceAfterMs = 30 * 60 * 1000,
    int MaxSnapshotsPerStore = 2,
    int MinBalanceSpread = 2,
    int BalanceSpreadPercent = 5,
    long ScatterWindowMs = 60 * 60 * 1000)
{
    public static readonly SchedulerSettings Default = new();
}

/// <summary>One operation the scheduler wants submitted now, and why (for the audit log).</summary>
internal sealed record SchedulerDecision(OperationSpec Spec, string Reason);

/// <summary>
/// The scheduler's rules as one pure function of the cluster view, the time and the operations
/// already active: what to submit now. The placement leader calls it every few seconds and submits
/// what it returns as operations with requested_by "scheduler" (each decision carries the reason
/// for the audit log). No I/O, clocks or threads: the same inputs give the same decisions.
/// Rules, in priority order:
/// <list type="number">
/// <item>Paused: nothing at all.</item>
/// <item>Replace: a store Down for at least StoreDownReplaceAfterMs, not in maintenance, Active or
/// Draining, holding replicas, and not already the target of a drain or replacement, gets a
/// ReplaceStore. A Draining store that still holds replicas and has no drain running gets its
/// DrainStore again (a placement failover or a failed drain must not leave it half-drained).</item>
/// <item>Replication factor: a range with fewer voters than the replication factor gets an
/// AddReplica on the store a move would choose; one with more gets a RemoveReplica of, in order, a
/// voter on a Down store, a voter sharing a failure domain with another, a voter on the store with
/// most replicas (never the leader's while another is possible). Down voters count as voters here:
/// replacing them is rule 2's job, after its delay.</item>
/// <item>Scatter: for the right half of a split placement recorded as automatic (by size or load;
/// operator splits are not recorded) within ScatterWindowMs: when both halves are led from one
/// store, the right half's leadership moves to another of its voters (Up, Active, out of
/// maintenance; the one with fewest leaders) if leader counts stay within the tolerance; when both
/// halves sit on exactly the same stores, one voter of the right half (never its leader's) moves
/// to the emptiest store that may take it (snapshot budget, failure domains) if replica counts
/// stay within the tolerance. A split's halves usually stay where the split left them, so a hot
/// range split by load would keep its load on the same leader and stores. At most one scatter
/// leader transfer and one scatter move per call; nothing on a guess (a leader not yet reported).</item>
/// <item>Balance: when the replica counts of Up, Active stores out of maintenance spread by more than
/// the tolerance, one voter moves from the fullest store to the emptiest that may take it; then,
/// likewise, one leadership moves between such stores. The tolerance is max(MinBalanceSpread,
/// BalanceSpreadPercent of the mean count): one move changes the spread by two, heartbeat counts lag
/// (a split adds a replica on three stores at once, a move in flight counts on both ends), so a
/// smaller spread would make the scheduler chase noise and move data back and forth; the
/// proportional part keeps large stores from being churned over a handful of replicas. One balance
/// move and one leader transfer per call, so balancing never storms.</item>
/// </list>
/// Always: never a second operation on a range some active operation touches (its spec's range or
/// any unfinished step's); never more than MaxSnapshotsPerStore moves or adds in flight into one
/// store, counting the running steps of active operations and the decisions of this call; nothing
/// on a range whose membership change is in flight.
/// </summary>
internal static class SchedulerRules
{
    public const string RequestedBy = "scheduler";

    /// <summary>The operations to submit now.</summary>
    /// <param name="view">The cluster as placement sees it.</param>
    /// <param name="nowMs">Now, Unix ms.</param>
    /// <param name="settings">The knobs.</param>
    /// <param name="activeOperations">Operations not yet finished (Pending or Running); others are ignored.</param>
    public static IReadOnlyList<SchedulerDecision> Decide(ClusterView view, long nowMs, SchedulerSettings settings, IReadOnlyCollection<OperationRecord> activeOperations)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(activeOperations);
        var decisions = new List<SchedulerDecision>();
        if (settings.Paused)
        {
            return decisions;
        }

        var round = new Round(view, settings, activeOperations);
        ReplaceAndResumeDrains(round, nowMs, decisions);
        KeepReplicationFactor(round, decisions);
        ScatterSplitHalves(round, nowMs, decisions);
        BalanceReplicas(round, decisions);
        BalanceLeaders(round, decisions);
        return decisions;
    }

    private static void ReplaceAndResumeDrains(Round round, long nowMs, List<SchedulerDecision> decisions)
    {
        foreach (var store in round.View.Stores.Values)
        {
            if (store.AdminState is not (StoreAdminState.Active or StoreAdminState.Draining) || round.BusyStores.Contains(store.Id) || !round.HoldsReplicas(store.Id))
            {
                continue;
            }

            // DownSinceMs 0 means the leader does not know since when: never replace on a guess.
            if (!store.IsUp && !store.InMaintenance && store.DownSinceMs > 0 && nowMs - store.DownSinceMs >= round.Settings.StoreDownReplaceAfterMs)
            {
                decisions.Add(new SchedulerDecision(
                    new OperationSpec { Kind = OperationKind.ReplaceStore, StoreId = store.Id.Value },
                    $"store {store.Id} has been down for {Minutes(nowMs - store.DownSinceMs)} (store-down-replace-after is {Minutes(round.Settings.StoreDownReplaceAfterMs)}): replacing its replicas"));
                round.BusyStores.Add(store.Id);
            }
            else if (store.AdminState == StoreAdminState.Draining)
            {
                decisions.Add(new SchedulerDecision(
                    new OperationSpec { Kind = OperationKind.DrainStore, StoreId = store.Id.Value },
                    $"store {store.Id} is draining and still holds replicas, but no drain is running: resuming it"));
                round.BusyStores.Add(store.Id);
            }
        }
    }

    private static void KeepReplicationFactor(Round round, List<SchedulerDecision> decisions)
    {
        int rf = round.View.ReplicationFactor;
        foreach (var range in round.View.Ranges.Values)
        {
            if (!round.Free(range))
            {
                continue;
            }

            var voters = range.VoterStores.ToList();
            if (voters.Count < rf)
            {
                if (Planner.BestTarget(round.View, range, default, round.SnapshotBudget, round.PlannedLoad) is { } target)
                {
                    decisions.Add(new SchedulerDecision(
                        new OperationSpec { Kind = OperationKind.AddReplica, RangeId = range.Id.Value, StoreId = target.Value, Epoch = range.Epoch.ToProto() },
                        $"range {range.Id} has {voters.Count} voter(s), the replication factor is {rf}: adding one on store {target}"));
                    round.Took(range, target);
                }
            }
            else if (voters.Count > rf)
            {
                var victim = RemovalVictim(round, range, voters);
                decisions.Add(new SchedulerDecision(
                    new OperationSpec { Kind = OperationKind.RemoveReplica, RangeId = range.Id.Value, StoreId = victim.Store.Value, Epoch = range.Epoch.ToProto() },
                    $"range {range.Id} has {voters.Count} voters, the replication factor is {rf}: removing the one on store {victim.Store} ({victim.Why})"));
                round.Took(range, null);
            }
        }
    }

    private static (StoreId Store, string Why) RemovalVictim(Round round, RangeView range, List<StoreId> voters)
    {
        var leader = range.LeaderStore;
        var ordered = voters
            .Select(v => (Store: v, View: round.View.Stores.GetValueOrDefault(v)))
            .Select(v => (
                v.Store,
                Down: v.View is null || !v.View.IsUp,
                Shares: round.Domains.SharedWith(voters, v.Store) is not null,
                Replicas: v.View?.ReplicaCount ?? 0))
            .OrderByDescending(v => v.Down)
            .ThenByDescending(v => v.Shares)
            .ThenBy(v => v.Store == leader) // the leader's last: removing it costs an election
            .ThenByDescending(v => v.Replicas)
            .ThenByDescending(v => v.Store.Value)
            .First();
        string why = ordered.Down ? "its store is down"
            : ordered.Shares ? $"it shares {round.Domains.Describe(ordered.Store)} with another voter"
            : $"its store holds the most replicas ({ordered.Replicas})";
        return (ordered.Store, why);
    }

    private static void ScatterSplitHalves(Round round, long nowMs, List<SchedulerDecision> decisions)
    {
        bool leaderMoved = false, replicaMoved = false;
        var balanced = round.BalanceCandidates();
        if (balanced.Count < 2)
        {
            return;
        }

        int leaderTolerance = round.Tolerance(balanced.Select(s => s.LeaderCount));
        int replicaTolerance = round.Tolerance(balanced.Select(s => s.ReplicaCount));
        var eligible = balanced.ToDictionary(s => s.Id);
        // Newest splits first: the halves most likely still hot.
        foreach (var split in round.View.Splits.OrderByDescending(x => x.AtMs).ThenBy(x => x.Right.Value))
        {
            if (leaderMoved && replicaMoved)
            {
                return;
            }

            if (split.Reason is not (SplitReason.Size or SplitReason.Load) || nowMs - split.AtMs > round.Settings.ScatterWindowMs
                || !round.View.Ranges.TryGetValue(split.Left, out var left) || !round.View.Ranges.TryGetValue(split.Right, out var right)
                || !round.Free(left) || !round.Free(right))
            {
                continue;
            }

            var leader = left.LeaderStore;
            string origin = $"range {right.Id} is the right half of a {(split.Reason == SplitReason.Load ? "load" : "size")} split of range {left.Id} ({Minutes(Math.Max(0, nowMs - split.AtMs))} ago)";
            if (!leaderMoved && leader.Value != 0 && right.LeaderStore == leader && round.View.Stores.TryGetValue(leader, out var source))
            {
                var target = right.Replicas
                    .Where(r => r.IsVoter && r.Store != leader && eligible.ContainsKey(r.Store))
                    .Select(r => eligible[r.Store])
                    .OrderBy(t => t.LeaderCount).ThenBy(t => t.Id.Value)
                    .FirstOrDefault();
                // After the transfer the target leads one more and the source one fewer: that pair must stay within the tolerance.
                if (target is not null && target.LeaderCount + 1 - (source.LeaderCount - 1) <= leaderTolerance)
                {
                    decisions.Add(new SchedulerDecision(
                        new OperationSpec { Kind = OperationKind.TransferLeader, RangeId = right.Id.Value, StoreId = target.Id.Value, Epoch = right.Epoch.ToProto() },
                        $"scatter: {origin} and both halves are led from store {leader}: moving range {right.Id}'s leadership to store {target.Id} " +
                        $"(leaders: store {leader} {source.LeaderCount}, store {target.Id} {target.LeaderCount}; tolerance {leaderTolerance})"));
                    round.Took(right, null);
                    leaderMoved = true;
                    continue;
                }
            }

            if (!replicaMoved && SameStores(left, right) && ScatterMove(round, right, eligible, replicaTolerance) is { } move)
            {
                decisions.Add(new SchedulerDecision(
                    new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = right.Id.Value, FromStoreId = move.From.Id.Value, ToStoreId = move.To.Id.Value, Epoch = right.Epoch.ToProto() },
                    $"scatter: {origin} and both halves are on the same stores: moving range {right.Id}'s replica from store {move.From.Id} to store {move.To.Id} " +
                    $"(replicas: store {move.From.Id} {move.From.ReplicaCount}, store {move.To.Id} {move.To.ReplicaCount}; tolerance {replicaTolerance})"));
                round.Took(right, move.To.Id);
                replicaMoved = true;
            }
        }
    }

    private static bool SameStores(RangeView a, RangeView b) =>
        a.Replicas.Select(r => r.Store.Value).Order().SequenceEqual(b.Replicas.Select(r => r.Store.Value).Order());

    /// <summary>
    /// One voter of <paramref name="right"/> (not its leader's) to move, from the fullest of its
    /// stores to the emptiest eligible store that holds no replica of it, keeps the snapshot budget
    /// and the failure domains, and leaves that pair's replica counts within the tolerance; null when none.
    /// </summary>
    private static (StoreView From, StoreView To)? ScatterMove(Round round, RangeView right, Dictionary<StoreId, StoreView> eligible, int tolerance)
    {
        var from = right.Replicas
            .Where(r => r.IsVoter && r.Store != right.LeaderStore && round.View.Stores.ContainsKey(r.Store))
            .Select(r => round.View.Stores[r.Store])
            .OrderByDescending(v => v.ReplicaCount).ThenBy(v => v.Id.Value)
            .FirstOrDefault();
        if (from is null)
        {
            return null;
        }

        var staying = right.VoterStores.Where(v => v != from.Id).ToList();
        foreach (var to in eligible.Values.OrderBy(v => v.ReplicaCount).ThenBy(v => v.Id.Value))
        {
            if (right.ReplicaOn(to.Id) is not null || round.SnapshotBudget(to) is not null || round.Domains.SharedWith(staying, to.Id) is not null)
            {
                continue;
            }

            // After the move the target holds one more and the source one fewer.
            return to.ReplicaCount + 1 - (from.ReplicaCount - 1) <= tolerance ? (from, to) : null;
        }

        return null;
    }

    private static void BalanceReplicas(Round round, List<SchedulerDecision> decisions)
    {
        var balanced = round.BalanceCandidates();
        if (balanced.Count < 2)
        {
            return;
        }

        int tolerance = round.Tolerance(balanced.Select(s => s.ReplicaCount));
        var fullest = balanced.OrderByDescending(s => s.ReplicaCount).ThenBy(s => s.Id.Value).First();
        foreach (var target in balanced.OrderBy(s => s.ReplicaCount).ThenBy(s => s.Id.Value))
        {
            if (fullest.ReplicaCount - target.ReplicaCount <= tolerance)
            {
                return; // sorted ascending: no emptier store is left
            }

            if (round.SnapshotBudget(target) is not null)
            {
                continue;
            }

            foreach (var range in round.View.Ranges.Values)
            {
                if (!round.Free(range) || range.ReplicaOn(fullest.Id) is not { IsVoter: true } || range.ReplicaOn(target.Id) is not null)
                {
                    continue;
                }

                var staying = range.VoterStores.Where(s => s != fullest.Id);
                if (round.Domains.SharedWith(staying, target.Id) is not null)
                {
                    continue;
                }

                decisions.Add(new SchedulerDecision(
                    new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = range.Id.Value, FromStoreId = fullest.Id.Value, ToStoreId = target.Id.Value, Epoch = range.Epoch.ToProto() },
                    $"replica counts spread {fullest.ReplicaCount - target.ReplicaCount} (store {fullest.Id}: {fullest.ReplicaCount}, store {target.Id}: {target.ReplicaCount}) beyond the tolerance {tolerance}: moving range {range.Id}'s replica"));
                round.Took(range, target.Id);
                return;
            }
        }
    }

    private static void BalanceLeaders(Round round, List<SchedulerDecision> decisions)
    {
        var balanced = round.BalanceCandidates();
        if (balanced.Count < 2)
        {
            return;
        }

        int tolerance = round.Tolerance(balanced.Select(s => s.LeaderCount));
        var most = balanced.OrderByDescending(s => s.LeaderCount).ThenBy(s => s.Id.Value).First();
        foreach (var target in balanced.OrderBy(s => s.LeaderCount).ThenBy(s => s.Id.Value))
        {
            if (most.LeaderCount - target.LeaderCount <= tolerance)
            {
                return;
            }

            foreach (var range in round.View.Ranges.Values)
            {
                if (!round.Free(range) || range.LeaderStore != most.Id || range.ReplicaOn(target.Id) is not { IsVoter: true })
                {
                    continue;
                }

                decisions.Add(new SchedulerDecision(
                    new OperationSpec { Kind = OperationKind.TransferLeader, RangeId = range.Id.Value, StoreId = target.Id.Value, Epoch = range.Epoch.ToProto() },
                    $"leader counts spread {most.LeaderCount - target.LeaderCount} (store {most.Id}: {most.LeaderCount}, store {target.Id}: {target.LeaderCount}) beyond the tolerance {tolerance}: moving range {range.Id}'s leadership"));
                round.Took(range, null);
                return;
            }
        }
    }

    private static string Minutes(long ms) => ms % 60_000 == 0 ? $"{ms / 60_000}m" : $"{ms / 60_000}m{ms % 60_000 / 1000}s";

    /// <summary>What one call has seen and decided so far.</summary>
    private sealed class Round
    {
        // Ranges an active operation or a decision of this call touches.
        private readonly HashSet<RangeId> _busyRanges = [];

        // Moves and adds in flight into each store (running steps plus this call's decisions).
        private readonly Dictionary<StoreId, int> _snapshots = [];

        public Round(ClusterView view, SchedulerSettings settings, IReadOnlyCollection<OperationRecord> active)
        {
            View = view;
            Settings = settings;
            Domains = FailureDomains.Compute(view);
            foreach (var op in active)
            {
                if (op.State is not (OperationState.Pending or OperationState.Running or OperationState.Unspecified))
                {
                    continue;
                }

                if (op.Spec is { } spec)
                {
                    if (spec.RangeId != 0)
                    {
                        _busyRanges.Add(new RangeId(spec.RangeId));
                    }

                    if (spec.Kind is OperationKind.DrainStore or OperationKind.ReplaceStore)
                    {
                        BusyStores.Add(new StoreId(spec.StoreId));
                    }
                }

                foreach (var step in op.Plan?.Steps ?? [])
                {
                    if (step.State is StepState.Pending or StepState.Running or StepState.Unspecified)
                    {
                        _busyRanges.Add(new RangeId(step.RangeId));
                    }

                    if (step.State == StepState.Running && step.Kind is StepKind.MoveReplica or StepKind.AddReplica)
                    {
                        var into = new StoreId(step.Kind == StepKind.MoveReplica ? step.ToStoreId : step.StoreId);
                        _snapshots[into] = _snapshots.GetValueOrDefault(into) + 1;
                    }
                }
            }
        }

        public ClusterView View { get; }

        public SchedulerSettings Settings { get; }

        /// <summary>Replicas this call has decided to add per store (so its adds spread).</summary>
        public Dictionary<StoreId, int> PlannedLoad { get; } = [];

        public FailureDomains Domains { get; }

        /// <summary>Stores a drain or replacement already covers.</summary>
        public HashSet<StoreId> BusyStores { get; } = [];

        public bool Free(RangeView range) => !range.ChangeInFlight && !_busyRanges.Contains(range.Id);

        public bool HoldsReplicas(StoreId store) =>
            View.Stores[store].ReplicaCount > 0 || View.Ranges.Values.Any(r => r.ReplicaOn(store) is not null);

        /// <summary>The snapshot-budget rule, as an extra target rule for the planner: null when the store may take one more.</summary>
        public string? SnapshotBudget(StoreView store) =>
            _snapshots.GetValueOrDefault(store.Id) >= Settings.MaxSnapshotsPerStore
                ? $"store {store.Id} already receives {Settings.MaxSnapshotsPerStore} snapshot(s)"
                : null;

        public void Took(RangeView range, StoreId? snapshotInto)
        {
            _busyRanges.Add(range.Id);
            if (snapshotInto is { } into)
            {
                _snapshots[into] = _snapshots.GetValueOrDefault(into) + 1;
                PlannedLoad[into] = PlannedLoad.GetValueOrDefault(into) + 1;
            }
        }

        public List<StoreView> BalanceCandidates() =>
            [.. View.Stores.Values.Where(s => s.IsUp && s.AdminState == StoreAdminState.Active && !s.InMaintenance)];

        public int Tolerance(IEnumerable<int> counts)
        {
            double mean = counts.Average();
            return Math.Max(Settings.MinBalanceSpread, (int)Math.Ceiling(mean * Settings.BalanceSpreadPercent / 100.0));
        }
    }
}
