using Google.Protobuf;
using Kv.Node.Raft;
using Kv.Proto.V1;

namespace Kv.Node.Ranges.Changes;

/// <summary>Limits of the replica-change engine.</summary>
internal sealed record ReplicaChangeOptions
{
    /// <summary>How long a leadership transfer, or a pending change to settle, may take (about two election timeouts).</summary>
    public TimeSpan LeadershipTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>A learner this close (in entries) to the leader's last index has caught up.</summary>
    public ulong CatchUpSlack { get; init; } = 64;

    /// <summary>Largest split key accepted (the node's max-key-bytes).</summary>
    public int MaxKeyBytes { get; init; } = 4096;
}

/// <summary>
/// Executes one plan step (proto/kv/v1/operations.proto: PlanStep) on the range's leader replica
/// on this store: Split, AddReplica (learner, catch-up, promotion), RemoveReplica (leadership
/// moved off first when the leader is the target), MoveReplica (learner on the target, catch-up,
/// one joint swap, leaving joint, leadership off the source first) and TransferLeader. Used by
/// the RangeAdmin service (the placement leader's executor), the Admin calls and the automatic
/// splitter. Returns a typed <see cref="StepOutcome"/>, never an RPC status.
///
/// Safety, for every step (kept from the Admin calls this replaces):
///  1. The epoch fence (<see cref="StepFence"/>, which states it exactly) runs first, on a
///     descriptor and configuration read together on the driver thread, after waiting (up to
///     <see cref="ReplicaChangeOptions.LeadershipTimeout"/>) for a pending change to apply.
///  2. Every membership change is one Raft conf change carrying a <see cref="ReplicaChange"/>
///     (stores of the replicas it adds, the conf_ver it expects). Admission is strict, on the
///     driver thread, at the moment of proposing: exactly the conf_ver the step looked at and no
///     change pending; the descriptor follows at apply (<see cref="RangeReplica.ApplyConfChange"/>).
///     So a change never applies to a descriptor other than the one it was decided on.
///  3. A range mid-change (joint, a change pending, a learner of another step) takes no new
///     change (Transient MidChange) except what finishes or rolls back that change: promoting or
///     swapping in that learner when the step is the one that added it, removing it.
///  4. Resumable: each phase is one change, and executing the step again continues from the phase
///     the range shows (a learner on the target, a joint configuration of the same move).
///  5. A step that hands leadership away answers NotLeader with the new leader as the hint; the
///     caller executes the same step there.
///  6. Waits are on conditions the store signals (<see cref="Store.WaitForAsync{T}"/>), each with a
///     deadline. A learner's catch-up waits at most the caller's budget and then answers Transient
///     CatchingUp with its progress, the learner kept: long work never blocks a caller for
///     minutes unless it asked to wait that long, and the step is cancellable between calls.
/// </summary>
internal sealed class ReplicaChangeEngine(Store store, Func<ulong, RangeReplica?> replicaOf, IChangePlacement placement, ReplicaChangeOptions options)
{
    private static long nextSplitProposal = Random.Shared.NextInt64();

    public ReplicaChangeOptions Options => options;

    /// <summary>
    /// Executes step on this store's replica of its range. wait bounds how long the call waits for
    /// a learner to catch up (and for a joint configuration to be left) before answering Transient.
    /// </summary>
    public Task<StepOutcome> ExecuteAsync(PlanStep step, TimeSpan wait, CancellationToken ct) =>
        GuardedAsync(step, replica => step.Kind switch
        {
            StepKind.Split => SplitAsync(replica, step, ct),
            StepKind.TransferLeader => TransferLeaderAsync(replica, step, ct),
            StepKind.AddReplica => AddReplicaAsync(step, wait, ct),
            StepKind.RemoveReplica => RemoveReplicaAsync(step, ct),
            StepKind.MoveReplica => MoveReplicaAsync(step, wait, ct),
            _ => Task.FromResult<StepOutcome>(new StepOutcome.Refused(RefusalKind.BadStep, $"step kind {step.Kind} is not one this engine executes")),
        });

    /// <summary>
    /// Undoes step (its operation was cancelled while it ran): leaves the range with no half-done
    /// state of it. By the phase the fence reads from the range: an add or move at phase 1 (its
    /// learner added, not promoted) has the learner removed; a move at phase 2 (joint) is finished
    /// by leaving the joint configuration, which is shorter than reversing it; anything else (no
    /// change made yet, the step complete, a range changed by something else, a split, transfer or
    /// removal, each a single change) is left as it is and answered Done. Safe to repeat.
    /// </summary>
    public Task<StepOutcome> AbortAsync(PlanStep step, TimeSpan wait, CancellationToken ct) =>
        GuardedAsync(step, async replica =>
        {
            if (step.Kind is not (StepKind.AddReplica or StepKind.MoveReplica))
            {
                return new StepOutcome.Done(replica.Descriptor);
            }

            var (d, view) = await SettledViewAsync(step.RangeId, ct).ConfigureAwait(false);
            var fence = StepFence.Check(step, d, view.ConfState);
            if (fence.Verdict != FenceVerdict.Proceed)
            {
                return new StepOutcome.Done(d);
            }

            if (step.Kind == StepKind.MoveReplica && fence.Phase == 2)
            {
                return await LeaveJointAsync(d.RangeId, wait, ct).ConfigureAwait(false);
            }

            var target = step.Kind == StepKind.AddReplica ? step.StoreId : step.ToStoreId;
            if (fence.Phase != 1 || d.Replicas.FirstOrDefault(r => r.StoreId == target) is not { Role: ReplicaRole.Learner } learner)
            {
                return new StepOutcome.Done(d);
            }

            var learnerId = learner.ReplicaId;
            d = await ChangeAsync(d, ConfChange.Single(ConfChangeType.RemoveNode, learnerId), [], ct,
                current => RangeBounds.Replica(current, learnerId) is { Role: ReplicaRole.Learner } ? null
                    : $"replica {learnerId} on store {target} is no longer a learner of range {d.RangeId}; nothing was changed").ConfigureAwait(false);
            return new StepOutcome.Done(d);
        });

    /// <summary>Validation, the local replica, and the typed outcomes of the exceptions a step's phases stop with.</summary>
    private async Task<StepOutcome> GuardedAsync(PlanStep step, Func<RangeReplica, Task<StepOutcome>> body)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (Validate(step, options.MaxKeyBytes) is { } bad)
        {
            return bad;
        }

        if (replicaOf(step.RangeId) is not { } replica)
        {
            return new StepOutcome.RangeNotFound(step.RangeId);
        }

        try
        {
            return await body(replica).ConfigureAwait(false);
        }
        catch (StepStop stop)
        {
            return stop.Outcome;
        }
        catch (GroupNotLeaderException e)
        {
            return NotLeader(step.RangeId, e.LeaderMemberId);
        }
        catch (GroupNotFoundException)
        {
            return new StepOutcome.RangeNotFound(step.RangeId);
        }
    }

    /// <summary>Refusals that need no state: a step that is malformed whatever the range looks like. Pure.</summary>
    public static StepOutcome.Refused? Validate(PlanStep step, int maxKeyBytes)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (step.RangeId == 0)
        {
            return Bad("the step names no range (range_id 0): name the range and the epoch the plan saw");
        }

        switch (step.Kind)
        {
            case StepKind.Split:
                if (step.SplitKey.IsEmpty)
                {
                    return Bad("split_key is empty: give the key the right-hand range should start at (strictly inside the range)");
                }

                return step.SplitKey.Length > maxKeyBytes
                    ? Bad($"split_key is {step.SplitKey.Length} bytes; the limit is {maxKeyBytes} bytes: pick a shorter key")
                    : null;
            case StepKind.AddReplica:
                return step.StoreId == 0 ? Bad("store_id is required: name the store that should get the new replica") : null;
            case StepKind.RemoveReplica:
                return step.StoreId == 0 ? Bad("store_id is required: name the store whose replica should go") : null;
            case StepKind.TransferLeader:
                return step.StoreId == 0 && step.ToStoreId == 0 ? Bad("store_id is required: name the store that should lead") : null;
            case StepKind.MoveReplica:
                if (step.FromStoreId == 0 || step.ToStoreId == 0)
                {
                    return Bad("from_store_id and to_store_id are required: name the store the replica leaves and the one it moves to");
                }

                return step.FromStoreId == step.ToStoreId
                    ? Bad($"from and to are both store {step.FromStoreId}; a move needs two different stores")
                    : null;
            default:
                return Bad($"step kind {step.Kind} is not one the replica-change engine executes (split, add, remove, move, transfer leader)");
        }
    }

    // ---- split and leader transfer ------------------------------------------------------------

    /// <summary>
    /// Split, on the range's leader:
    ///  1. the fence (exact epoch, or this split already applied: Done with both halves);
    ///  2. refuse a key not strictly inside the range; nothing is allocated or proposed;
    ///  3. allocate the new range id and one replica id per store from placement;
    ///  4. propose the <see cref="SplitCommand"/> fenced on the step's epoch (checked again by
    ///     the leader before proposing, and by every replica at apply);
    ///  5. answer both halves once applied and durable here, and report the left half to placement.
    /// Ids allocated for a split that is then refused are simply never used.
    /// </summary>
    private async Task<StepOutcome> SplitAsync(RangeReplica replica, PlanStep step, CancellationToken ct)
    {
        var d = replica.Descriptor;
        var key = step.SplitKey;
        var fence = StepFence.Check(step, d, ConfState.Empty);
        if (fence.Verdict == FenceVerdict.AlreadyDone)
        {
            var around = replica.EpochNotMatchError().EpochNotMatch.Current;
            return new StepOutcome.Done(d, around.FirstOrDefault(r => r.StartKey.Equals(key)));
        }

        if (fence.Verdict == FenceVerdict.Stale)
        {
            return EpochChanged(replica);
        }

        if (key.Span.SequenceCompareTo(d.StartKey.Span) <= 0 || (!d.EndKey.IsEmpty && key.Span.SequenceCompareTo(d.EndKey.Span) >= 0))
        {
            var why = key.Span.SequenceCompareTo(d.StartKey.Span) == 0 ? "is the range's start key (a split there would leave the left half empty)" : "is outside the range";
            return Bad($"split key {RangeBounds.Describe(key)} {why}: range {d.RangeId} is [{RangeBounds.Describe(d.StartKey)}, {RangeBounds.Describe(d.EndKey)}); " +
                "pick a key strictly inside it (or split the range that holds the key)");
        }

        // Only the leader allocates ids and proposes: ask the store first, so a follower does not burn ids.
        var status = (await store.StatusAsync().WaitAsync(ct).ConfigureAwait(false)).FirstOrDefault(s => s.GroupId == d.RangeId);
        if (!status.IsLeader)
        {
            return status.GroupId == 0 ? new StepOutcome.RangeNotFound(d.RangeId) : NotLeader(d.RangeId, status.Lead);
        }

        var count = (uint)d.Replicas.Count + 1;
        var (first, error) = await placement.AllocIdsAsync(count, ct).ConfigureAwait(false);
        if (error is not null)
        {
            return new StepOutcome.Transient(TransientKind.Unavailable, $"range {d.RangeId}: placement did not allocate ids for the split ({error}); retry shortly");
        }

        var split = new SplitCommand { SplitKey = key, NewRangeId = first };
        for (var i = 0; i < d.Replicas.Count; i++)
        {
            split.NewReplicas.Add(new ReplicaDescriptor { ReplicaId = first + 1 + (ulong)i, StoreId = d.Replicas[i].StoreId, Role = d.Replicas[i].Role });
        }

        var command = new RangeCommand
        {
            ProposalId = (ulong)Interlocked.Increment(ref nextSplitProposal),
            Epoch = step.Epoch?.Clone() ?? new RangeEpoch(),
            Split = split,
        };
        var result = await store.ProposeAsync(d.RangeId, command.ProposalId, command.ToByteArray(), g => ((RangeReplica)g.Machine).Check(command))
            .WaitAsync(ct).ConfigureAwait(false);
        switch (result)
        {
            case SplitResult done:
                await ReportAsync(done.Left, replica.LocalReplicaId, ct).ConfigureAwait(false);
                return new StepOutcome.Done(done.Left, done.Right);
            case RangeError { EpochNotMatch: not null }:
                return EpochChanged(replica);
            case RangeError { NotLeader: not null } e:
                return new StepOutcome.NotLeader(d.RangeId, e.NotLeader.Leader);
            case RangeError e:
                return new StepOutcome.Transient(TransientKind.MidChange, e.Message);
            default:
                return new StepOutcome.Transient(TransientKind.Unavailable, $"range {d.RangeId}: the split was not applied; retry");
        }
    }

    /// <summary>
    /// Best effort, for the automatic split path: reports the right half of a size or load split
    /// with its origin, so placement's scheduler can scatter the halves. The right half is reported
    /// led by its replica on this store (the left's leader's store, where it usually is at first);
    /// the right half's own heartbeats correct that. A lost report costs only the scatter.
    /// </summary>
    public async Task ReportSplitAsync(RangeDescriptor right, ulong storeId, SplitOrigin origin, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(right);
        ArgumentNullException.ThrowIfNull(origin);
        var leader = right.Replicas.FirstOrDefault(r => r.StoreId == storeId);
        if (leader is null)
        {
            return;
        }

        using var brief = CancellationTokenSource.CreateLinkedTokenSource(ct);
        brief.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await placement.ReportRangeAsync(right, leader, brief.Token, origin).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Placement did not answer in time: this split is not scattered.
        }
    }

    /// <summary>Best effort: tells placement about the shrunk left half now rather than at the next heartbeat.</summary>
    private async Task ReportAsync(RangeDescriptor left, ulong localReplicaId, CancellationToken ct)
    {
        if (RangeBounds.Replica(left, localReplicaId) is not { } leader)
        {
            return;
        }

        using var brief = CancellationTokenSource.CreateLinkedTokenSource(ct);
        brief.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await placement.ReportRangeAsync(left, leader, brief.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The range heartbeat will report it.
        }
    }

    /// <summary>
    /// TransferLeader: the target must be a voter; the hand-over is admitted on the driver thread
    /// at exactly the step's epoch; then waits (up to LeadershipTimeout) for the target to lead.
    /// The target campaigns at once (TimeoutNow) and wins unless it is far behind or cut off, in
    /// which case the leader gives the transfer up after an election timeout.
    /// </summary>
    private async Task<StepOutcome> TransferLeaderAsync(RangeReplica replica, PlanStep step, CancellationToken ct)
    {
        var d = replica.Descriptor;
        var storeId = step.StoreId != 0 ? step.StoreId : step.ToStoreId;
        var target = d.Replicas.FirstOrDefault(r => r.StoreId == storeId);
        if (target is null)
        {
            return Bad($"range {d.RangeId} has no replica on store {storeId}; its replicas are on stores {Stores(d)}");
        }

        if (target.Role != ReplicaRole.Voter)
        {
            return new StepOutcome.Refused(RefusalKind.Precondition, $"range {d.RangeId}'s replica on store {storeId} is a learner and cannot lead; promote it first");
        }

        var refused = await store.TransferLeaderAsync(d.RangeId, target.ReplicaId,
            g => StepFence.Check(step, DescriptorOf(g), g.Node.ConfState).Verdict == FenceVerdict.Proceed ? null : StaleMarker.Instance)
            .WaitAsync(ct).ConfigureAwait(false);
        if (refused is StaleMarker)
        {
            return EpochChanged(replica);
        }

        var targetId = target.ReplicaId;
        if (await store.WaitForAsync(d.RangeId, g => g.Node.Lead == targetId ? Signal.Yes : null, options.LeadershipTimeout, ct).ConfigureAwait(false) is null)
        {
            return new StepOutcome.Transient(TransientKind.Unavailable,
                $"range {d.RangeId}: store {storeId} did not take over leadership within {options.LeadershipTimeout.TotalSeconds:0.#} s (it may be behind or unreachable); read the range to see who leads, and retry");
        }

        return new StepOutcome.Done(replicaOf(d.RangeId)?.Descriptor ?? d);
    }

    // ---- membership steps ---------------------------------------------------------------------

    /// <summary>AddReplica: a learner on the store (unless this step's learner is there already), catch-up, promotion.</summary>
    private async Task<StepOutcome> AddReplicaAsync(PlanStep step, TimeSpan wait, CancellationToken ct)
    {
        var (d, view) = await SettledViewAsync(step.RangeId, ct).ConfigureAwait(false);
        if (FenceOrDone(step, d, view) is { } answered)
        {
            return answered;
        }

        var existing = d.Replicas.FirstOrDefault(r => r.StoreId == step.StoreId);
        if (existing is { Role: ReplicaRole.Voter })
        {
            return new StepOutcome.Refused(RefusalKind.Precondition,
                $"store {step.StoreId} already holds replica {existing.ReplicaId} of range {d.RangeId} (a voter); a store holds at most one replica of a range");
        }

        if (existing is null)
        {
            RefuseMidChange(d, view, allowedLearner: 0);
            await RequireUpStoreAsync(step.StoreId, ct).ConfigureAwait(false);
            var id = await AllocReplicaIdAsync(ct).ConfigureAwait(false);
            existing = new ReplicaDescriptor { ReplicaId = id, StoreId = step.StoreId, Role = ReplicaRole.Learner };
            d = await ChangeAsync(d, ConfChange.Single(ConfChangeType.AddLearnerNode, id), [existing], ct).ConfigureAwait(false);
        }
        else
        {
            // A learner on that store: this step's earlier execution added it and did not finish. Continue.
            RefuseMidChange(d, view, allowedLearner: existing.ReplicaId);
        }

        await WaitCaughtUpAsync(d.RangeId, existing, wait, ct).ConfigureAwait(false);
        d = replicaOf(d.RangeId)?.Descriptor ?? d;
        var learnerId = existing.ReplicaId;
        d = await ChangeAsync(d, ConfChange.Single(ConfChangeType.AddNode, learnerId),
            [new ReplicaDescriptor { ReplicaId = learnerId, StoreId = existing.StoreId, Role = ReplicaRole.Voter }], ct,
            current => RangeBounds.Replica(current, learnerId) is { Role: ReplicaRole.Learner } ? null
                : $"replica {learnerId} on store {step.StoreId} is no longer a learner of range {d.RangeId} (another change removed or promoted it); nothing was changed").ConfigureAwait(false);
        return new StepOutcome.Done(d);
    }

    /// <summary>RemoveReplica: never the last voter; a leader being removed hands leadership away first (NotLeader with the hint).</summary>
    private async Task<StepOutcome> RemoveReplicaAsync(PlanStep step, CancellationToken ct)
    {
        var (d, view) = await SettledViewAsync(step.RangeId, ct).ConfigureAwait(false);
        if (FenceOrDone(step, d, view) is { } answered)
        {
            return answered;
        }

        var target = d.Replicas.FirstOrDefault(r => r.StoreId == step.StoreId);
        if (target is null)
        {
            return Bad($"range {d.RangeId} has no replica on store {step.StoreId}; its replicas are on stores {Stores(d)}");
        }

        // Removing a learner is how a stuck add is rolled back, so learners do not block it.
        RefuseMidChange(d, view, allowedLearner: target.Role == ReplicaRole.Learner ? target.ReplicaId : ulong.MaxValue);
        if (target.Role == ReplicaRole.Voter && view.ConfState.Voters.Length <= 1)
        {
            return new StepOutcome.Refused(RefusalKind.Precondition,
                $"the replica on store {step.StoreId} is range {d.RangeId}'s last voter; removing it would leave the range without a quorum. Add a replica elsewhere first");
        }

        if (target.ReplicaId == view.LeaderId)
        {
            // The leader does not remove itself: it hands leadership to an up-to-date voter,
            // which removes it when the step is executed there.
            return await MoveLeadershipOffAsync(d, view, exclude: target.ReplicaId, ct).ConfigureAwait(false);
        }

        d = await ChangeAsync(d, ConfChange.Single(ConfChangeType.RemoveNode, target.ReplicaId), [], ct).ConfigureAwait(false);
        return new StepOutcome.Done(d);
    }

    /// <summary>MoveReplica: learner on the target, catch-up, leadership off the source, one joint swap, leave joint.</summary>
    private async Task<StepOutcome> MoveReplicaAsync(PlanStep step, TimeSpan wait, CancellationToken ct)
    {
        var (d, view) = await SettledViewAsync(step.RangeId, ct).ConfigureAwait(false);
        var fence = StepFence.Check(step, d, view.ConfState);
        if (FenceOrDone(step, d, view) is { } answered)
        {
            return answered;
        }

        var from = d.Replicas.FirstOrDefault(r => r.StoreId == step.FromStoreId);
        var to = d.Replicas.FirstOrDefault(r => r.StoreId == step.ToStoreId);

        // The plan saw the finished move (phase 3 at its own epoch): report the range as it is.
        if (fence.Phase == 3)
        {
            return new StepOutcome.Done(d);
        }

        if (from is null)
        {
            return Bad($"range {d.RangeId} has no replica on store {step.FromStoreId}; its replicas are on stores {Stores(d)}");
        }

        if (view.ConfState.IsJoint)
        {
            // The joint half of this very move (phase 2): it leaves automatically; make sure it does.
            if (fence.Phase != 2)
            {
                RefuseMidChange(d, view, allowedLearner: 0);
            }

            return await LeaveJointAsync(d.RangeId, wait, ct).ConfigureAwait(false);
        }

        if (from.Role != ReplicaRole.Voter)
        {
            return new StepOutcome.Refused(RefusalKind.Precondition,
                $"range {d.RangeId}'s replica on store {step.FromStoreId} is a learner; remove it (replica remove) and add one on store {step.ToStoreId} (replica add) instead");
        }

        if (to is { Role: ReplicaRole.Voter })
        {
            return new StepOutcome.Refused(RefusalKind.Precondition,
                $"store {step.ToStoreId} already holds replica {to.ReplicaId} of range {d.RangeId} (a voter); a store holds at most one replica of a range");
        }

        if (to is null)
        {
            RefuseMidChange(d, view, allowedLearner: 0);
            if (from.ReplicaId == view.LeaderId && view.ConfState.Voters.Length == 1)
            {
                return new StepOutcome.Refused(RefusalKind.Precondition,
                    $"range {d.RangeId} has a single voter, on store {step.FromStoreId}, and it leads; add a replica on store {step.ToStoreId} (replica add), then remove the one on store {step.FromStoreId} (replica remove)");
            }

            await RequireUpStoreAsync(step.ToStoreId, ct).ConfigureAwait(false);
            var id = await AllocReplicaIdAsync(ct).ConfigureAwait(false);
            to = new ReplicaDescriptor { ReplicaId = id, StoreId = step.ToStoreId, Role = ReplicaRole.Learner };
            d = await ChangeAsync(d, ConfChange.Single(ConfChangeType.AddLearnerNode, id), [to], ct).ConfigureAwait(false);
        }
        else
        {
            RefuseMidChange(d, view, allowedLearner: to.ReplicaId);
        }

        await WaitCaughtUpAsync(d.RangeId, to, wait, ct).ConfigureAwait(false);

        // Leadership off the source before the swap: the source leaves the configuration.
        (d, view) = await SettledViewAsync(step.RangeId, ct).ConfigureAwait(false);
        if (from.ReplicaId == view.LeaderId)
        {
            return await MoveLeadershipOffAsync(d, view, exclude: from.ReplicaId, ct).ConfigureAwait(false);
        }

        // One joint change: the target becomes a voter and the source leaves, with both
        // majorities needed until the joint configuration is left (automatically).
        var swap = new ConfChange(ConfChangeTransition.JointImplicit,
            [new ConfChangeSingle(ConfChangeType.AddNode, to.ReplicaId), new ConfChangeSingle(ConfChangeType.RemoveNode, from.ReplicaId)]);
        var (toId, fromId) = (to.ReplicaId, from.ReplicaId);
        await ChangeAsync(d, swap, [new ReplicaDescriptor { ReplicaId = toId, StoreId = to.StoreId, Role = ReplicaRole.Voter }], ct,
            current => RangeBounds.Replica(current, toId) is { Role: ReplicaRole.Learner } && RangeBounds.Replica(current, fromId) is { Role: ReplicaRole.Voter } ? null
                : $"range {d.RangeId} changed under the move (the learner on store {step.ToStoreId} or the voter on store {step.FromStoreId} is gone); nothing was changed").ConfigureAwait(false);
        return await LeaveJointAsync(d.RangeId, wait, ct).ConfigureAwait(false);
    }

    /// <summary>The fence's answer when it ends the step (EpochChanged, Done), else null.</summary>
    private StepOutcome? FenceOrDone(PlanStep step, RangeDescriptor d, MembershipView view)
    {
        var fence = StepFence.Check(step, d, view.ConfState);
        return fence.Verdict switch
        {
            FenceVerdict.Stale => EpochChanged(replicaOf(d.RangeId)),
            FenceVerdict.AlreadyDone => new StepOutcome.Done(d),
            _ => null,
        };
    }

    // ---- phases -------------------------------------------------------------------------------

    /// <summary>
    /// The range's descriptor and membership, read together on the driver thread as its leader
    /// sees them, once no change is pending (waiting up to LeadershipTimeout: a new leader has its
    /// predecessor's last entries pending for a moment, and an automatic leave-joint is in flight
    /// right after a joint change). A change still pending after that is refused by <see cref="RefuseMidChange"/>.
    /// </summary>
    private async Task<(RangeDescriptor Descriptor, MembershipView View)> SettledViewAsync(ulong rangeId, CancellationToken ct)
    {
        var seen = await store.WaitForAsync(rangeId, g => g.Node.Role != RaftRole.Leader ? new Seen(null, null, g.Node.Lead)
            : Store.ViewOf(g) is { ChangePending: false } v ? new Seen(DescriptorOf(g), v, 0) : null, options.LeadershipTimeout, ct).ConfigureAwait(false);
        seen ??= (await store.MembershipAsync(rangeId, g => new Seen(DescriptorOf(g), Store.ViewOf(g), 0)).WaitAsync(ct).ConfigureAwait(false)) as Seen;
        return seen switch
        {
            { Descriptor: { } d, View: { } v } => (d, v),
            { Lead: var lead } => throw new StepStop(NotLeader(rangeId, lead)),
            null => throw new StepStop(new StepOutcome.RangeNotFound(rangeId)),
        };
    }

    /// <summary>Refuses (Transient MidChange) a range that is mid-change: joint, a change pending, or a learner (other than allowedLearner) present.</summary>
    private static void RefuseMidChange(RangeDescriptor d, MembershipView view, ulong allowedLearner)
    {
        if (view.ConfState.IsJoint)
        {
            throw MidChange($"range {d.RangeId} is mid-change: in a joint configuration (voters {string.Join(' ', view.ConfState.Voters)} and {string.Join(' ', view.ConfState.VotersOutgoing)}); " +
                "wait for it to finish, or finish the move with replica move");
        }

        if (view.ChangePending)
        {
            throw MidChange($"range {d.RangeId} is mid-change: a membership change is being applied; retry when it is done");
        }

        var learner = d.Replicas.FirstOrDefault(r => r.Role == ReplicaRole.Learner && r.ReplicaId != allowedLearner);
        if (learner is not null)
        {
            throw MidChange($"range {d.RangeId} is mid-change: replica {learner.ReplicaId} on store {learner.StoreId} is a learner (an add or move that has not finished); " +
                $"finish it (replica add --store {learner.StoreId}) or roll it back (replica remove --store {learner.StoreId}) first");
        }
    }

    /// <summary>The store must be known to placement and Up.</summary>
    private async Task RequireUpStoreAsync(ulong storeId, CancellationToken ct)
    {
        var info = await placement.DescribeStoreAsync(storeId, ct).ConfigureAwait(false)
            ?? throw new StepStop(new StepOutcome.Transient(TransientKind.Unavailable, "placement could not list the stores; retry"));
        if (!info.Known)
        {
            throw new StepStop(new StepOutcome.Refused(RefusalKind.Precondition,
                $"store {storeId} is not known to placement (known: {info.KnownStores}); start it, or name another store"));
        }

        if (info.State != StoreState.Up)
        {
            throw new StepStop(new StepOutcome.Refused(RefusalKind.Precondition, $"store {storeId} is {info.State} (not Up); bring it back up, or name another store"));
        }
    }

    private async Task<ulong> AllocReplicaIdAsync(CancellationToken ct)
    {
        var (first, error) = await placement.AllocIdsAsync(1, ct).ConfigureAwait(false);
        return error is null ? first
            : throw new StepStop(new StepOutcome.Transient(TransientKind.Unavailable, $"placement did not allocate a replica id ({error}); retry"));
    }

    /// <summary>
    /// Proposes one membership change decided on d (its conf_ver is the one expected) and waits
    /// for it to apply here; returns the descriptor after it. Admission, on the driver thread:
    /// the descriptor's conf_ver is still d's, stillValid agrees, and no change is pending.
    /// </summary>
    private async Task<RangeDescriptor> ChangeAsync(RangeDescriptor d, ConfChange change, ReplicaDescriptor[] added, CancellationToken ct, Func<RangeDescriptor, string?>? stillValid = null)
    {
        var expected = d.Epoch?.ConfVer ?? 0;
        var context = new ReplicaChange { ExpectedConfVer = expected, Replicas = { added } };
        var cc = change with { Context = context.ToByteArray() };
        object? result;
        try
        {
            result = await store.ProposeConfChangeAsync(d.RangeId, cc, g =>
            {
                var current = DescriptorOf(g);
                if ((current.Epoch?.ConfVer ?? 0) != expected)
                {
                    return StaleMarker.Instance;
                }

                if (stillValid?.Invoke(current) is { } why)
                {
                    return new StepOutcome.Refused(RefusalKind.Precondition, why);
                }

                return g.PendingConfChange is not null || g.Node.HasPendingConfChange
                    ? new StepOutcome.Transient(TransientKind.MidChange, $"range {d.RangeId} is mid-change: a membership change is being applied; retry when it is done")
                    : null;
            }).WaitAsync(ct).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            throw MidChange($"range {d.RangeId} is mid-change: {e.Message}");
        }

        return result switch
        {
            StaleMarker => throw new StepStop(EpochChanged(replicaOf(d.RangeId))),
            StepOutcome refusal => throw new StepStop(refusal),
            _ => replicaOf(d.RangeId)?.Descriptor ?? throw new StepStop(new StepOutcome.RangeNotFound(d.RangeId)),
        };
    }

    /// <summary>
    /// Waits (up to wait) until the learner's match index is within CatchUpSlack of the leader's
    /// last index, on the store's signal (a peer's acknowledgement moves the match index). Not
    /// caught up by then: Transient CatchingUp with the progress; the learner stays.
    /// </summary>
    private async Task WaitCaughtUpAsync(ulong rangeId, ReplicaDescriptor learner, TimeSpan wait, CancellationToken ct)
    {
        var id = learner.ReplicaId;
        var slack = options.CatchUpSlack;
        CatchUpProgress? last = null;
        var result = await store.WaitForAsync<object>(rangeId, g =>
        {
            if (g.Node.Role != RaftRole.Leader)
            {
                return new Seen(null, null, g.Node.Lead);
            }

            if (!g.Node.ConfState.Contains(id))
            {
                return Signal.Gone;
            }

            var match = g.Node.MatchOf(id);
            var lastIndex = g.Node.LastIndex;
            Volatile.Write(ref last, new CatchUpProgress(id, learner.StoreId, match, lastIndex));
            return match > 0 && match + slack >= lastIndex ? Signal.Yes : null;
        }, wait, ct).ConfigureAwait(false);
        switch (result)
        {
            case Signal s when s == Signal.Yes:
                return;
            case Signal:
                throw new StepStop(new StepOutcome.Refused(RefusalKind.Aborted,
                    $"replica {id} on store {learner.StoreId} left range {rangeId} while it was catching up; nothing more was changed"));
            case Seen seen:
                throw new StepStop(NotLeader(rangeId, seen.Lead));
            default:
                var p = Volatile.Read(ref last);
                throw new StepStop(new StepOutcome.Transient(TransientKind.CatchingUp,
                    $"range {rangeId}: the learner on store {learner.StoreId} is catching up (it has {p?.Match ?? 0} of {p?.LastIndex ?? 0}); " +
                    $"it stays a learner: run the same step again to continue, or roll back with replica remove --store {learner.StoreId}", p));
        }
    }

    /// <summary>
    /// Waits for the joint configuration to be left: the leader leaves it automatically; if that
    /// has not happened after LeadershipTimeout, proposes it. Transient MidChange after wait.
    /// </summary>
    private async Task<StepOutcome> LeaveJointAsync(ulong rangeId, TimeSpan wait, CancellationToken ct)
    {
        var until = DateTime.UtcNow + (wait > options.LeadershipTimeout ? wait : options.LeadershipTimeout);
        while (true)
        {
            var seen = await store.WaitForAsync(rangeId, g => g.Node.Role != RaftRole.Leader ? new Seen(null, null, g.Node.Lead)
                : !g.Node.ConfState.IsJoint && g.PendingConfChange is null && !g.Node.HasPendingConfChange ? new Seen(DescriptorOf(g), null, 0) : null,
                options.LeadershipTimeout, ct).ConfigureAwait(false);
            switch (seen)
            {
                case { Descriptor: { } d }:
                    return new StepOutcome.Done(d);
                case not null:
                    return NotLeader(rangeId, seen.Lead);
            }

            var (current, view) = await SettledViewAsync(rangeId, ct).ConfigureAwait(false);
            if (view.ConfState.IsJoint && !view.ChangePending)
            {
                await ChangeAsync(current, ConfChange.LeaveJointChange, [], ct).ConfigureAwait(false);
            }

            if (DateTime.UtcNow > until)
            {
                return new StepOutcome.Transient(TransientKind.MidChange, $"range {rangeId} is still leaving its joint configuration; run the same step again to finish it");
            }
        }
    }

    /// <summary>
    /// Hands this leader's leadership to the most up-to-date other voter and waits (up to
    /// LeadershipTimeout) for it to take over; answers NotLeader with it as the hint.
    /// </summary>
    private async Task<StepOutcome> MoveLeadershipOffAsync(RangeDescriptor d, MembershipView view, ulong exclude, CancellationToken ct)
    {
        var candidates = view.ConfState.Voters.Where(v => v != exclude && v != view.LeaderId).OrderByDescending(v => view.Match.GetValueOrDefault(v)).ToList();
        if (candidates.Count == 0)
        {
            return new StepOutcome.Refused(RefusalKind.Precondition, $"range {d.RangeId} has no other voter to take over leadership from replica {exclude}");
        }

        var target = candidates[0];
        await store.TransferLeaderAsync(d.RangeId, target).WaitAsync(ct).ConfigureAwait(false);
        if (await store.WaitForAsync(d.RangeId, g => g.Node.Lead == target ? Signal.Yes : null, options.LeadershipTimeout, ct).ConfigureAwait(false) is not null)
        {
            return NotLeader(d.RangeId, target);
        }

        return new StepOutcome.Transient(TransientKind.Unavailable,
            $"range {d.RangeId}: leadership must leave replica {exclude} first, and replica {target} did not take over within {options.LeadershipTimeout.TotalSeconds:0.#} s; retry");
    }

    // ---- helpers ------------------------------------------------------------------------------

    private static RangeDescriptor DescriptorOf(RaftGroup g) => ((RangeReplica)g.Machine).Descriptor;

    private StepOutcome.NotLeader NotLeader(ulong rangeId, ulong leaderReplicaId) =>
        new(rangeId, leaderReplicaId == 0 ? null : replicaOf(rangeId) is { } r ? RangeBounds.Replica(r.Descriptor, leaderReplicaId) : null);

    private static StepOutcome EpochChanged(RangeReplica? replica) =>
        replica is null ? new StepOutcome.Refused(RefusalKind.Aborted, "the range left this store while the step ran; nothing more was changed")
            : new StepOutcome.EpochChanged([.. replica.EpochNotMatchError().EpochNotMatch.Current]);

    private static StepOutcome.Refused Bad(string reason) => new(RefusalKind.BadStep, reason);

    private static StepStop MidChange(string reason) => new(new StepOutcome.Transient(TransientKind.MidChange, reason));

    private static string Stores(RangeDescriptor d) => string.Join(", ", d.Replicas.Select(r => r.StoreId));

    /// <summary>What a condition saw: the leader's descriptor and membership, or (Descriptor null) this replica does not lead, Lead being the hint.</summary>
    private sealed record Seen(RangeDescriptor? Descriptor, MembershipView? View, ulong Lead);

    /// <summary>Answers of conditions that carry no data.</summary>
    private sealed class Signal
    {
        public static readonly Signal Yes = new();
        public static readonly Signal Gone = new();
    }

    /// <summary>An admission's "the epoch moved" (the caller builds the EpochChanged with the current descriptors).</summary>
    private sealed class StaleMarker
    {
        public static readonly StaleMarker Instance = new();
    }

    /// <summary>Ends a step from inside a phase with its outcome (caught in <see cref="ExecuteAsync"/>).</summary>
    private sealed class StepStop(StepOutcome outcome) : Exception(outcome.ToString())
    {
        public StepOutcome Outcome { get; } = outcome;
    }
}
