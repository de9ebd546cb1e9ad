using Google.Protobuf;
using Kv.Client;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations.Planning;

/// <summary>
/// Turns an <see cref="OperationSpec"/> into a <see cref="Plan"/> against a <see cref="ClusterView"/>,
/// or refuses it with what was wrong and what to do. Pure: the same spec and view always give the
/// same plan (ties are broken by store id), and nothing is read or written besides the arguments.
/// <para>Contract of a plan:</para>
/// <list type="number">
/// <item>Every step names one range and records the epoch and approximate size it saw; the
/// executor refuses a step whose range is at another epoch and calls <see cref="Replan"/>.</item>
/// <item>A move target is eligible when it is Up, Active, not in maintenance, holds no replica of
/// the range, and shares no failure domain with a voter that stays (<see cref="FailureDomains"/>).
/// Among eligible stores the planner prefers fewer replicas (counting what the plan itself already
/// sends there), then more available bytes, then the lower store id.</item>
/// <item>A drain moves every voter off the store (the move step also moves leadership off the
/// source) and removes its learners; ranges that no store can take are not planned but reported
/// as stuck, naming why each candidate was rejected.</item>
/// <item>The preflight (<see cref="PreflightCheck"/>) is filled in; an unsafe plan is refused
/// unless forced, and a force always needs a reason.</item>
/// </list>
/// </summary>
internal static class Planner
{
    /// <summary>Plans <paramref name="spec"/>. <paramref name="reason"/> is the operator's reason (needed with force).</summary>
    public static PlanOutcome Plan(OperationSpec spec, ClusterView view, string? reason = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(view);
        if (PreflightCheck.CheckForce(spec.Force, reason) is { } forceRefusal)
        {
            return new PlanOutcome(null, forceRefusal, []);
        }

        var draft = Draft(spec, view);
        return draft.Refusal is not null ? new PlanOutcome(null, draft.Refusal, []) : Finish([], draft, spec, view, reason);
    }

    /// <summary>
    /// Recomputes the remaining steps of <paramref name="record"/> from the current view, after a
    /// step was refused because its range's epoch changed. Done and Skipped steps stay as they
    /// are; a step not yet done that the view shows as already effectively done (the replica
    /// already moved, the key already a boundary) becomes Skipped; every other unfinished step
    /// becomes Superseded (kept as history) and fresh Pending steps follow. A drain's fresh steps
    /// cover both halves of a range that split. The epoch fence of the spec is not applied again:
    /// the client's epoch was checked when the operation was accepted.
    /// </summary>
    public static PlanOutcome Replan(OperationRecord record, ClusterView view, string? reason = null)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(view);
        var spec = record.Spec.Clone();
        spec.Epoch = null;
        var kept = new List<PlanStep>();
        bool anyOpen = false;
        foreach (var old in record.Plan?.Steps ?? [])
        {
            var step = old.Clone();
            if (step.State is StepState.Pending or StepState.Running or StepState.Failed or StepState.Unspecified)
            {
                if (EffectivelyDone(step, view) is { } why)
                {
                    step.State = StepState.Skipped;
                    step.Error = why;
                }
                else
                {
                    step.State = StepState.Superseded;
                    step.Error = $"range {step.RangeId} changed under the plan (planned at epoch {Epoch.FromProto(step.Epoch)}); replanned";
                    anyOpen = true;
                }
            }

            kept.Add(step);
        }

        bool singleRange = spec.Kind is not (OperationKind.DrainStore or OperationKind.ReplaceStore);
        if (singleRange && !anyOpen)
        {
            // Everything left was already done by someone else: nothing to recompute.
            return Finish(kept, new PlanDraft(), spec, view, reason);
        }

        if (spec.Kind == OperationKind.Split)
        {
            // The range that holds the key may have a new id now (it split elsewhere, or merged).
            var holder = view.Ranges.Values.FirstOrDefault(r => r.Contains(spec.SplitKey.Span));
            if (holder is not null)
            {
                spec.RangeId = holder.Id.Value;
            }
        }

        var draft = Draft(spec, view);
        return draft.Refusal is not null ? new PlanOutcome(null, draft.Refusal, []) : Finish(kept, draft, spec, view, reason);
    }

    /// <summary>Null when <paramref name="step"/> is not yet done in <paramref name="view"/>, else why it is.</summary>
    internal static string? EffectivelyDone(PlanStep step, ClusterView view)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(view);
        if (step.Kind == StepKind.Split)
        {
            return view.Ranges.Values.Any(r => r.StartKey.AsSpan().SequenceEqual(step.SplitKey.Span))
                ? "already done: a range starts at the split key"
                : null;
        }

        if (!view.Ranges.TryGetValue(new RangeId(step.RangeId), out var range))
        {
            return null;
        }

        switch (step.Kind)
        {
            case StepKind.MoveReplica:
                var to = new StoreId(step.ToStoreId);
                return range.ReplicaOn(new StoreId(step.FromStoreId)) is null && (step.ToStoreId == 0 || range.ReplicaOn(to) is { IsVoter: true })
                    ? $"already done: store {step.FromStoreId} holds no replica of range {step.RangeId}"
                    : null;
            case StepKind.AddReplica:
                return range.ReplicaOn(new StoreId(step.StoreId)) is { IsVoter: true } ? $"already done: store {step.StoreId} holds a voter of range {step.RangeId}" : null;
            case StepKind.RemoveReplica:
                return range.ReplicaOn(new StoreId(step.StoreId)) is null ? $"already done: store {step.StoreId} holds no replica of range {step.RangeId}" : null;
            case StepKind.TransferLeader:
                return range.LeaderStore == new StoreId(step.StoreId) ? $"already done: store {step.StoreId} leads range {step.RangeId}" : null;
            default:
                return null;
        }
    }

    private static PlanOutcome Finish(List<PlanStep> kept, PlanDraft draft, OperationSpec spec, ClusterView view, string? reason)
    {
        var plan = new Plan();
        plan.Steps.AddRange(kept);
        plan.Steps.AddRange(draft.Steps);
        for (int i = 0; i < plan.Steps.Count; i++)
        {
            plan.Steps[i].Index = (uint)i;
        }

        plan.Notes.AddRange(draft.Notes);
        plan.Preflight = PreflightCheck.Compute(plan, view);
        var refusal = PreflightCheck.Admit(plan.Preflight, spec.Force, reason);
        return new PlanOutcome(plan, refusal, draft.Stuck);
    }

    private static PlanDraft Draft(OperationSpec spec, ClusterView view)
    {
        // A drain or replacement empties its store, so that store separates nothing (FailureDomains rule 3).
        var leaving = spec.Kind is OperationKind.DrainStore or OperationKind.ReplaceStore ? new StoreId(spec.StoreId) : default;
        var context = new PlanContext(view, leaving);
        return spec.Kind switch
        {
            OperationKind.Split => PlanSplit(spec, context),
            OperationKind.AddReplica => PlanAdd(spec, context),
            OperationKind.RemoveReplica => PlanRemove(spec, context),
            OperationKind.MoveReplica => PlanMove(spec, context),
            OperationKind.TransferLeader => PlanTransferLeader(spec, context),
            OperationKind.DrainStore => PlanDrain(spec, context, replace: false),
            OperationKind.ReplaceStore => PlanDrain(spec, context, replace: true),
            _ => PlanDraft.Refuse(RefusalCode.InvalidArgument,
                $"operation kind {spec.Kind} cannot be planned: use Split, AddReplica, RemoveReplica, MoveReplica, TransferLeader, DrainStore or ReplaceStore"),
        };
    }

    private static PlanDraft PlanSplit(OperationSpec spec, PlanContext context)
    {
        if (context.FindRange(spec, out var range) is { } refusal)
        {
            return refusal;
        }

        if (spec.SplitKey.IsEmpty)
        {
            return PlanDraft.Refuse(RefusalCode.InvalidArgument, "the split key is empty: give the key the right-hand range should start at");
        }

        if (!range.ContainsStrictly(spec.SplitKey.Span))
        {
            return PlanDraft.Refuse(RefusalCode.InvalidArgument,
                $"split key {Key(spec.SplitKey.Span)} is not strictly inside range {range.Id} [{Key(range.StartKey.AsSpan())}, {(range.EndKey.IsEmpty ? "end" : Key(range.EndKey.AsSpan()))}): pick a key after its start key and before its end key (kvctl range show {range.Id})");
        }

        var draft = new PlanDraft();
        draft.Steps.Add(context.Step(StepKind.Split, range, $"split range {range.Id} at key {Key(spec.SplitKey.Span)}", splitKey: spec.SplitKey));
        PlanContext.NoteInFlight(draft, range);
        return draft;
    }

    private static PlanDraft PlanAdd(OperationSpec spec, PlanContext context)
    {
        if (context.FindRange(spec, out var range) is { } refusal)
        {
            return refusal;
        }

        var store = new StoreId(spec.StoreId);
        if (context.FindStore(store, out var target) is { } missing)
        {
            return missing;
        }

        if (range.ReplicaOn(store) is { IsVoter: true })
        {
            return PlanDraft.Refuse(RefusalCode.InvalidArgument,
                $"store {store} already holds a voter of range {range.Id}: pick another store, or leave it");
        }

        // A learner already there (an earlier attempt's) is promoted rather than refused.
        bool learner = range.ReplicaOn(store) is not null;
        if (context.Reject(target, range, range.VoterStores, allowLearner: true) is { } why)
        {
            return context.NotEligible(target, range, why);
        }

        var draft = new PlanDraft();
        draft.Steps.Add(context.Step(StepKind.AddReplica, range,
            learner ? $"promote store {store}'s learner of range {range.Id} to voter ({context.Domains.Describe(store)})"
                : $"add a voter of range {range.Id} on store {store} ({context.Domains.Describe(store)})",
            store: store));
        PlanContext.NoteInFlight(draft, range);
        return draft;
    }

    private static PlanDraft PlanRemove(OperationSpec spec, PlanContext context)
    {
        if (context.FindRange(spec, out var range) is { } refusal)
        {
            return refusal;
        }

        var store = new StoreId(spec.StoreId);
        if (context.FindStore(store, out _) is { } missing)
        {
            return missing;
        }

        if (range.ReplicaOn(store) is not { } replica)
        {
            return PlanDraft.Refuse(RefusalCode.InvalidArgument,
                $"store {store} holds no replica of range {range.Id}: nothing to remove (kvctl range show {range.Id} lists its replicas)");
        }

        if (replica.IsVoter && range.VoterStores.Count() == 1)
        {
            return PlanDraft.Refuse(RefusalCode.InvalidArgument,
                $"store {store} holds the only voter of range {range.Id}: removing it would destroy the range; add or move a replica instead");
        }

        var draft = new PlanDraft();
        draft.Steps.Add(context.Step(StepKind.RemoveReplica, range,
            $"remove range {range.Id}'s {(replica.IsVoter ? "voter" : "learner")} from store {store}", store: store));
        PlanContext.NoteInFlight(draft, range);
        return draft;
    }

    private static PlanDraft PlanMove(OperationSpec spec, PlanContext context)
    {
        if (context.FindRange(spec, out var range) is { } refusal)
        {
            return refusal;
        }

        var from = new StoreId(spec.FromStoreId);
        if (context.FindStore(from, out _) is { } missing)
        {
            return missing;
        }

        switch (range.ReplicaOn(from))
        {
            case null:
                return PlanDraft.Refuse(RefusalCode.InvalidArgument,
                    $"store {from} holds no replica of range {range.Id}: nothing to move (kvctl range show {range.Id} lists its replicas)");
            case { IsVoter: false }:
                return PlanDraft.Refuse(RefusalCode.InvalidArgument,
                    $"store {from} holds a learner of range {range.Id}, not a voter: a move swaps voters; remove the learner instead (kvctl replica remove)");
        }

        var draft = new PlanDraft();
        if (spec.ToStoreId == 0)
        {
            var (chosen, rejections) = context.ChooseTarget(range, from);
            if (chosen is null)
            {
                return context.NoTarget(range, rejections);
            }

            draft.Steps.Add(context.MoveStep(range, from, chosen.Value));
        }
        else
        {
            var to = new StoreId(spec.ToStoreId);
            if (to == from)
            {
                return PlanDraft.Refuse(RefusalCode.InvalidArgument, $"from and to are both store {from}: name another target, or 0 to let the planner choose");
            }

            if (context.FindStore(to, out var target) is { } unknownTarget)
            {
                return unknownTarget;
            }

            // A learner already on the target (an earlier attempt's) is reused by the move.
            if (context.Reject(target, range, range.VoterStores.Where(s => s != from), allowLearner: true) is { } why)
            {
                return context.NotEligible(target, range, why);
            }

            draft.Steps.Add(context.MoveStep(range, from, to));
        }

        PlanContext.NoteInFlight(draft, range);
        return draft;
    }

    private static PlanDraft PlanTransferLeader(OperationSpec spec, PlanContext context)
    {
        if (context.FindRange(spec, out var range) is { } refusal)
        {
            return refusal;
        }

        var store = new StoreId(spec.StoreId);
        if (context.FindStore(store, out var target) is { } missing)
        {
            return missing;
        }

        if (range.ReplicaOn(store) is not { IsVoter: true })
        {
            return PlanDraft.Refuse(RefusalCode.InvalidArgument,
                $"store {store} holds no voter of range {range.Id}, so it cannot lead it: pick one of its voters (kvctl range show {range.Id})");
        }

        string? why = !target.IsUp ? $"store {store} is down"
            : target.AdminState != StoreAdminState.Active ? $"store {store} is {AdminWord(target.AdminState)}: leaders are being moved off it"
            : target.InMaintenance ? $"store {store} is in maintenance"
            : null;
        if (why is not null)
        {
            return PlanDraft.Refuse(RefusalCode.NotEligible, $"{why}: it cannot take range {range.Id}'s leadership; pick another voter");
        }

        var draft = new PlanDraft();
        if (range.LeaderStore == store)
        {
            draft.Notes.Add($"store {store} already leads range {range.Id}: nothing to do");
            return draft;
        }

        draft.Steps.Add(context.Step(StepKind.TransferLeader, range, $"transfer range {range.Id}'s leadership to store {store}", store: store));
        return draft;
    }

    private static PlanDraft PlanDrain(OperationSpec spec, PlanContext context, bool replace)
    {
        var store = new StoreId(spec.StoreId);
        if (context.FindStore(store, out var source) is { } missing)
        {
            return missing;
        }

        string verb = replace ? "replace" : "drain";
        if (source.AdminState == StoreAdminState.Removed)
        {
            return PlanDraft.Refuse(RefusalCode.InvalidArgument, $"store {store} is removed: there is nothing to {verb}");
        }

        if (replace && source.IsUp)
        {
            return PlanDraft.Refuse(RefusalCode.InvalidArgument, $"store {store} is up: replacing is for a down store; drain it instead (kvctl store drain {store})");
        }

        var ranges = context.View.Ranges.Values.Where(r => r.ReplicaOn(store) is not null).ToList();
        var draft = new PlanDraft();
        if (ranges.Count == 0)
        {
            draft.Notes.Add($"store {store} holds no replicas: nothing to move");
            return draft;
        }

        bool anyOther = context.View.Stores.Values.Any(s => s.Id != store && s.AdminState == StoreAdminState.Active);
        if (!anyOther)
        {
            return PlanDraft.Refuse(RefusalCode.PlacementImpossible,
                $"store {store} is the last store that can hold replicas: add a store (kv-node serve) before you {verb} it");
        }

        int voterRanges = 0;
        foreach (var range in ranges)
        {
            var replica = range.ReplicaOn(store)!.Value;
            if (!replica.IsVoter)
            {
                draft.Steps.Add(context.Step(StepKind.RemoveReplica, range, $"remove range {range.Id}'s learner from store {store}", store: store));
                continue;
            }

            voterRanges++;
            var (chosen, rejections) = context.ChooseTarget(range, store);
            if (chosen is null)
            {
                string reason = "no eligible store: " + context.Explain(rejections);
                draft.Stuck.Add(new StuckRange { RangeId = range.Id.Value, Reason = reason });
                draft.Notes.Add($"range {range.Id} cannot leave store {store} yet: {reason}");
                continue;
            }

            draft.Steps.Add(context.MoveStep(range, store, chosen.Value));
            PlanContext.NoteInFlight(draft, range);
        }

        if (voterRanges > 0 && draft.Stuck.Count == voterRanges)
        {
            var first = draft.Stuck[0];
            return PlanDraft.Refuse(RefusalCode.PlacementImpossible,
                $"the {verb} of store {store} could never finish: no store is eligible for any of its {voterRanges} range(s) with a voter (range {first.RangeId}: {first.Reason}); add a store in another failure domain, or end the maintenance of one");
        }

        if (!context.Domains.Sufficient)
        {
            draft.Notes.Add(context.Domains.InsufficientReason!);
        }

        return draft;
    }

    /// <summary>
    /// The target the planner would choose for a voter of <paramref name="range"/> leaving
    /// <paramref name="from"/> (default: none leaving, i.e. an added voter), by the same eligibility
    /// and preference as a move; <paramref name="extraRule"/> may reject more stores (the scheduler's
    /// snapshot budget); <paramref name="extraLoad"/> adds replicas the caller has already decided to
    /// send to stores. Null when no store is eligible.
    /// </summary>
    internal static StoreId? BestTarget(ClusterView view, RangeView range, StoreId from, Func<StoreView, string?>? extraRule = null, IReadOnlyDictionary<StoreId, int>? extraLoad = null)
    {
        var context = new PlanContext(view, default);
        foreach (var (store, count) in extraLoad ?? new Dictionary<StoreId, int>())
        {
            context.AddLoad(store, count);
        }

        return context.ChooseTarget(range, from, extraRule).Target;
    }

    internal static string AdminWord(StoreAdminState state) => state switch
    {
        StoreAdminState.Active => "active",
        StoreAdminState.Draining => "draining",
        StoreAdminState.Drained => "drained",
        StoreAdminState.Removed => "removed",
        _ => state.ToString(),
    };

    /// <summary>A key for people: hex, at most 32 bytes shown.</summary>
    internal static string Key(ReadOnlySpan<byte> key) =>
        key.Length == 0 ? "\"\"" : "0x" + Convert.ToHexString(key[..Math.Min(key.Length, 32)]) + (key.Length > 32 ? "..." : "");

    /// <summary>What one planning call accumulates.</summary>
    private sealed class PlanDraft
    {
        public List<PlanStep> Steps { get; } = [];

        public List<string> Notes { get; } = [];

        public List<StuckRange> Stuck { get; } = [];

        public PlanRefusal? Refusal { get; private init; }

        public static PlanDraft Refuse(RefusalCode code, string message) => new() { Refusal = new PlanRefusal(code, message) };
    }

    /// <summary>The view, its failure domains, and the replica counts as the plan so far would leave them.</summary>
    private sealed class PlanContext(ClusterView view, StoreId leaving)
    {
        // Replicas per store counting the steps planned so far, so a drain spreads its moves.
        private readonly Dictionary<StoreId, int> _load = view.Stores.Values.ToDictionary(s => s.Id, s => s.ReplicaCount);

        public ClusterView View { get; } = view;

        public void AddLoad(StoreId store, int count) => _load[store] = _load.GetValueOrDefault(store) + count;

        public FailureDomains Domains { get; } = FailureDomains.Compute(view, leaving);

        public PlanDraft? FindRange(OperationSpec spec, out RangeView range)
        {
            if (!View.Ranges.TryGetValue(new RangeId(spec.RangeId), out range!))
            {
                return PlanDraft.Refuse(RefusalCode.NotFound, $"range {spec.RangeId} is unknown: list ranges with kvctl range list");
            }

            if (spec.Epoch is not null && Epoch.FromProto(spec.Epoch) != range.Epoch)
            {
                return PlanDraft.Refuse(RefusalCode.EpochChanged,
                    $"range {range.Id} is at epoch {range.Epoch}, not {Epoch.FromProto(spec.Epoch)} as the request saw: it changed since; re-read it (kvctl range show {range.Id}) and retry");
            }

            return null;
        }

        public PlanDraft? FindStore(StoreId id, out StoreView store) =>
            View.Stores.TryGetValue(id, out store!) ? null
                : PlanDraft.Refuse(RefusalCode.NotFound, $"store {id} is unknown: list stores with kvctl store list");

        /// <summary>
        /// Why <paramref name="candidate"/> may not receive a voter of <paramref name="range"/> next to
        /// <paramref name="stayingVoters"/>; null when it may. <paramref name="allowLearner"/>: a learner of
        /// the range on the candidate is fine (an operator named the store, and the step promotes it).
        /// </summary>
        public string? Reject(StoreView candidate, RangeView range, IEnumerable<StoreId> stayingVoters, bool allowLearner = false)
        {
            if (candidate.AdminState != StoreAdminState.Active)
            {
                return $"store {candidate.Id} is {AdminWord(candidate.AdminState)}";
            }

            if (!candidate.IsUp)
            {
                return $"store {candidate.Id} is down";
            }

            if (candidate.InMaintenance)
            {
                return $"store {candidate.Id} is in maintenance";
            }

            if (range.ReplicaOn(candidate.Id) is { } held && (held.IsVoter || !allowLearner))
            {
                return $"store {candidate.Id} already holds a replica of range {range.Id}";
            }

            if (Domains.SharedWith(stayingVoters, candidate.Id) is { } other)
            {
                return $"store {candidate.Id} would share {Domains.Describe(candidate.Id)} with store {other}'s voter";
            }

            return null;
        }

        /// <summary>The best eligible target for moving <paramref name="range"/>'s voter off <paramref name="from"/>, and why each other store was rejected.</summary>
        public (StoreId? Target, List<string> Rejections) ChooseTarget(RangeView range, StoreId from, Func<StoreView, string?>? extraRule = null)
        {
            var staying = range.VoterStores.Where(s => s != from).ToList();
            var rejections = new List<string>();
            StoreView? best = null;
            foreach (var candidate in View.Stores.Values)
            {
                if (candidate.Id == from)
                {
                    continue;
                }

                if ((Reject(candidate, range, staying) ?? extraRule?.Invoke(candidate)) is { } why)
                {
                    rejections.Add(why);
                    continue;
                }

                if (best is null || Better(candidate, best))
                {
                    best = candidate;
                }
            }

            return (best?.Id, rejections);
        }

        public string Explain(List<string> rejections)
        {
            string text = rejections.Count == 0 ? "there is no other store" : string.Join("; ", rejections);
            if (!Domains.Sufficient && rejections.Any(r => r.Contains(" would share ", StringComparison.Ordinal)))
            {
                text += " (" + Domains.InsufficientReason + ")";
            }

            return text;
        }

        public PlanDraft NoTarget(RangeView range, List<string> rejections)
        {
            bool domains = rejections.Count > 0 && !Domains.Sufficient && rejections.Any(r => r.Contains(" would share ", StringComparison.Ordinal));
            return PlanDraft.Refuse(domains ? RefusalCode.PlacementImpossible : RefusalCode.NotEligible,
                $"no eligible store for range {range.Id}: {Explain(rejections)}");
        }

        public PlanDraft NotEligible(StoreView target, RangeView range, string why)
        {
            bool domains = why.Contains(" would share ", StringComparison.Ordinal) && !Domains.Sufficient;
            return PlanDraft.Refuse(domains ? RefusalCode.PlacementImpossible : RefusalCode.NotEligible,
                $"store {target.Id} cannot take a replica of range {range.Id}: {why}" + (domains ? " (" + Domains.InsufficientReason + ")" : ": pick another store, or 0 to let the planner choose"));
        }

        public PlanStep Step(StepKind kind, RangeView range, string description, StoreId store = default, ByteString? splitKey = null)
        {
            if (kind == StepKind.AddReplica)
            {
                _load[store] = _load.GetValueOrDefault(store) + 1;
            }
            else if (kind == StepKind.RemoveReplica)
            {
                _load[store] = _load.GetValueOrDefault(store) - 1;
            }

            return new PlanStep
            {
                Kind = kind,
                RangeId = range.Id.Value,
                Epoch = range.Epoch.ToProto(),
                StoreId = store.Value,
                SplitKey = splitKey ?? ByteString.Empty,
                Bytes = range.ApproximateBytes,
                Description = description,
                State = StepState.Pending,
            };
        }

        public PlanStep MoveStep(RangeView range, StoreId from, StoreId to)
        {
            _load[to] = _load.GetValueOrDefault(to) + 1;
            _load[from] = _load.GetValueOrDefault(from) - 1;
            string leader = range.LeaderStore == from ? ", moving its leadership off the source" : "";
            return new PlanStep
            {
                Kind = StepKind.MoveReplica,
                RangeId = range.Id.Value,
                Epoch = range.Epoch.ToProto(),
                FromStoreId = from.Value,
                ToStoreId = to.Value,
                Bytes = range.ApproximateBytes,
                Description = $"move range {range.Id}'s replica from store {from} ({Domains.Describe(from)}) to store {to} ({Domains.Describe(to)}){leader}",
                State = StepState.Pending,
            };
        }

        public static void NoteInFlight(PlanDraft draft, RangeView range)
        {
            if (range.ChangeInFlight)
            {
                draft.Notes.Add($"range {range.Id} is mid-change (a learner catching up or a joint configuration): its step waits for that to finish");
            }
        }

        private bool Better(StoreView a, StoreView b)
        {
            int la = _load.GetValueOrDefault(a.Id), lb = _load.GetValueOrDefault(b.Id);
            if (la != lb)
            {
                return la < lb;
            }

            if (a.AvailableBytes != b.AvailableBytes)
            {
                return a.AvailableBytes > b.AvailableBytes;
            }

            return a.Id.Value < b.Id.Value;
        }
    }
}
