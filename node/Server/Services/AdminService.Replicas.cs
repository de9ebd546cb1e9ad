using Google.Protobuf;
using Kv.Client.Contracts;
using Kv.Client.Rpc;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Server.Hosting;
using Kv.Node.Server.Rpc;
using Kv.Proto.V1;

namespace Kv.Node.Server.Services;

/// <summary>
/// kv.v1.Admin/AddReplica, RemoveReplica and MoveReplica, on the range's leader.
///
/// Every change is one Raft conf change carrying a <see cref="ReplicaChange"/> (the stores of the
/// replicas it adds and the conf_ver it expects); the descriptor follows at apply
/// (<see cref="RangeReplica.ApplyConfChange"/>). Admission is strict, on the driver thread, at
/// the moment of proposing: exactly the expected conf_ver, no change pending, so a change never
/// applies to a descriptor other than the one it was planned on.
///
/// The calls are resumable: each one reads where the range is (a learner on the target store,
/// a joint configuration of the same move) and continues from there, so a call cut short (a
/// client deadline, a leader that died) is finished by calling it again on the new leader. A
/// step that moves leadership away answers NotLeader with the new leader as the hint; the
/// client retries there.
/// </summary>
internal sealed partial class AdminService
{
    /// <summary>A learner this close (in entries) to the leader's last index has caught up.</summary>
    private const ulong CatchUpSlack = 64;

    /// <summary>How long one call waits for a learner to catch up (bounded by the caller's deadline too).</summary>
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromMinutes(10);

    private async Task<AddReplicaResponse> AddReplicaAsync(AddReplicaRequest request, ServerCallContext context)
    {
        var ctx = RequireRange(request.Context);
        if (request.StoreId == 0)
        {
            throw Refuse(StatusCode.InvalidArgument, "store_id is required: name the store that should get the new replica");
        }

        var ct = context.CancellationToken;
        try
        {
            var (d, view) = await SettledViewAsync(ctx, fenced: true, ct).ConfigureAwait(false);
            var existing = d.Replicas.FirstOrDefault(r => r.StoreId == request.StoreId);
            if (existing is { Role: ReplicaRole.Voter })
            {
                throw Refuse(StatusCode.FailedPrecondition,
                    $"store {request.StoreId} already holds replica {existing.ReplicaId} of range {d.RangeId} (a voter); a store holds at most one replica of a range");
            }

            if (existing is null)
            {
                RefuseMidChange(d, view, allowedLearner: 0);
                await RequireUpStoreAsync(request.StoreId, ct).ConfigureAwait(false);
                var id = await AllocReplicaIdAsync(ct).ConfigureAwait(false);
                existing = new ReplicaDescriptor { ReplicaId = id, StoreId = request.StoreId, Role = ReplicaRole.Learner };
                d = await ChangeAsync(d, ConfChange.Single(ConfChangeType.AddLearnerNode, id), [existing], ct).ConfigureAwait(false);
            }
            else
            {
                // A learner on that store: an earlier call added it and did not finish. Continue.
                RefuseMidChange(d, view, allowedLearner: existing.ReplicaId);
            }

            await WaitCaughtUpAsync(ctx.RangeId, existing, ct).ConfigureAwait(false);
            d = replicaOf(ctx.RangeId)?.Descriptor ?? d;
            var learnerId = existing.ReplicaId;
            d = await ChangeAsync(d, ConfChange.Single(ConfChangeType.AddNode, learnerId),
                [new ReplicaDescriptor { ReplicaId = learnerId, StoreId = existing.StoreId, Role = ReplicaRole.Voter }], ct,
                current => RangeBounds.Replica(current, learnerId) is { Role: ReplicaRole.Learner } ? null
                    : $"replica {learnerId} on store {request.StoreId} is no longer a learner of range {d.RangeId} (another change removed or promoted it); nothing was changed").ConfigureAwait(false);
            return new AddReplicaResponse { Range = d };
        }
        catch (RangeErrorException e)
        {
            return new AddReplicaResponse { Error = e.Error };
        }
    }

    private async Task<RemoveReplicaResponse> RemoveReplicaAsync(RemoveReplicaRequest request, ServerCallContext context)
    {
        var ctx = RequireRange(request.Context);
        var ct = context.CancellationToken;
        try
        {
            var (d, view) = await SettledViewAsync(ctx, fenced: true, ct).ConfigureAwait(false);
            var target = d.Replicas.FirstOrDefault(r => r.StoreId == request.StoreId)
                ?? throw Refuse(StatusCode.InvalidArgument,
                    $"range {d.RangeId} has no replica on store {request.StoreId}; its replicas are on stores {string.Join(", ", d.Replicas.Select(r => r.StoreId))}");

            // Removing a learner is how a stuck add is rolled back, so learners do not block it.
            RefuseMidChange(d, view, allowedLearner: target.Role == ReplicaRole.Learner ? target.ReplicaId : ulong.MaxValue);
            if (target.Role == ReplicaRole.Voter && view.ConfState.Voters.Length <= 1)
            {
                throw Refuse(StatusCode.FailedPrecondition,
                    $"the replica on store {request.StoreId} is range {d.RangeId}'s last voter; removing it would leave the range without a quorum. Add a replica elsewhere first");
            }

            if (target.ReplicaId == view.LeaderId)
            {
                // The leader does not remove itself: it hands leadership to an up-to-date voter,
                // which removes it when the client retries there.
                throw await MoveLeadershipOffAsync(d, view, exclude: target.ReplicaId, ct).ConfigureAwait(false);
            }

            d = await ChangeAsync(d, ConfChange.Single(ConfChangeType.RemoveNode, target.ReplicaId), [], ct).ConfigureAwait(false);
            return new RemoveReplicaResponse { Range = d };
        }
        catch (RangeErrorException e)
        {
            return new RemoveReplicaResponse { Error = e.Error };
        }
    }

    private async Task<MoveReplicaResponse> MoveReplicaAsync(MoveReplicaRequest request, ServerCallContext context)
    {
        var ctx = RequireRange(request.Context);
        if (request.FromStoreId == 0 || request.ToStoreId == 0)
        {
            throw Refuse(StatusCode.InvalidArgument, "from_store_id and to_store_id are required: name the store the replica leaves and the one it moves to");
        }

        if (request.FromStoreId == request.ToStoreId)
        {
            throw Refuse(StatusCode.InvalidArgument, $"from and to are both store {request.FromStoreId}; a move needs two different stores");
        }

        var ct = context.CancellationToken;
        try
        {
            var (d, view) = await SettledViewAsync(ctx, fenced: true, ct).ConfigureAwait(false);
            var from = d.Replicas.FirstOrDefault(r => r.StoreId == request.FromStoreId);
            var to = d.Replicas.FirstOrDefault(r => r.StoreId == request.ToStoreId);

            // Already done (an earlier call finished after its caller gave up): report the result.
            if (from is null && to is { Role: ReplicaRole.Voter } && !view.ConfState.IsJoint)
            {
                return new MoveReplicaResponse { Range = d };
            }

            if (from is null)
            {
                throw Refuse(StatusCode.InvalidArgument,
                    $"range {d.RangeId} has no replica on store {request.FromStoreId}; its replicas are on stores {string.Join(", ", d.Replicas.Select(r => r.StoreId))}");
            }

            if (view.ConfState.IsJoint)
            {
                // The joint half of this very move: it leaves automatically; make sure it does.
                var ours = to is not null && Array.IndexOf(view.ConfState.Voters, to.ReplicaId) >= 0
                    && Array.IndexOf(view.ConfState.VotersOutgoing, from.ReplicaId) >= 0 && Array.IndexOf(view.ConfState.Voters, from.ReplicaId) < 0;
                if (!ours)
                {
                    RefuseMidChange(d, view, allowedLearner: 0);
                }

                d = await LeaveJointAsync(ctx.RangeId, ct).ConfigureAwait(false);
                return new MoveReplicaResponse { Range = d };
            }

            if (from.Role != ReplicaRole.Voter)
            {
                throw Refuse(StatusCode.FailedPrecondition,
                    $"range {d.RangeId}'s replica on store {request.FromStoreId} is a learner; remove it (replica remove) and add one on store {request.ToStoreId} (replica add) instead");
            }

            if (to is { Role: ReplicaRole.Voter })
            {
                throw Refuse(StatusCode.FailedPrecondition,
                    $"store {request.ToStoreId} already holds replica {to.ReplicaId} of range {d.RangeId} (a voter); a store holds at most one replica of a range");
            }

            if (to is null)
            {
                RefuseMidChange(d, view, allowedLearner: 0);
                if (from.ReplicaId == view.LeaderId && view.ConfState.Voters.Length == 1)
                {
                    throw Refuse(StatusCode.FailedPrecondition,
                        $"range {d.RangeId} has a single voter, on store {request.FromStoreId}, and it leads; add a replica on store {request.ToStoreId} (replica add), then remove the one on store {request.FromStoreId} (replica remove)");
                }

                await RequireUpStoreAsync(request.ToStoreId, ct).ConfigureAwait(false);
                var id = await AllocReplicaIdAsync(ct).ConfigureAwait(false);
                to = new ReplicaDescriptor { ReplicaId = id, StoreId = request.ToStoreId, Role = ReplicaRole.Learner };
                d = await ChangeAsync(d, ConfChange.Single(ConfChangeType.AddLearnerNode, id), [to], ct).ConfigureAwait(false);
            }
            else
            {
                RefuseMidChange(d, view, allowedLearner: to.ReplicaId);
            }

            await WaitCaughtUpAsync(ctx.RangeId, to, ct).ConfigureAwait(false);

            // Leadership off the source before the swap: the source leaves the configuration.
            (d, view) = await ViewAsync(ctx, fenced: false, ct).ConfigureAwait(false);
            if (from.ReplicaId == view.LeaderId)
            {
                throw await MoveLeadershipOffAsync(d, view, exclude: from.ReplicaId, ct).ConfigureAwait(false);
            }

            // One joint change: the target becomes a voter and the source leaves, with both
            // majorities needed until the joint configuration is left (automatically).
            var swap = new ConfChange(ConfChangeTransition.JointImplicit,
                [new ConfChangeSingle(ConfChangeType.AddNode, to.ReplicaId), new ConfChangeSingle(ConfChangeType.RemoveNode, from.ReplicaId)]);
            var (toId, fromId) = (to.ReplicaId, from.ReplicaId);
            await ChangeAsync(d, swap, [new ReplicaDescriptor { ReplicaId = toId, StoreId = to.StoreId, Role = ReplicaRole.Voter }], ct,
                current => RangeBounds.Replica(current, toId) is { Role: ReplicaRole.Learner } && RangeBounds.Replica(current, fromId) is { Role: ReplicaRole.Voter } ? null
                    : $"range {d.RangeId} changed under the move (the learner on store {request.ToStoreId} or the voter on store {request.FromStoreId} is gone); nothing was changed").ConfigureAwait(false);
            d = await LeaveJointAsync(ctx.RangeId, ct).ConfigureAwait(false);
            return new MoveReplicaResponse { Range = d };
        }
        catch (RangeErrorException e)
        {
            return new MoveReplicaResponse { Error = e.Error };
        }
    }

    // ---- steps ------------------------------------------------------------------------------

    private static RangeContext RequireRange(RangeContext? context) =>
        context is { RangeId: > 0 } c ? c : throw Refuse(StatusCode.InvalidArgument, "context.range_id is required: name the range and the epoch you saw");

    /// <summary>The range's descriptor and membership as this leader sees them; fenced: the caller's epoch must be current.</summary>
    private async Task<(RangeDescriptor Descriptor, MembershipView View)> ViewAsync(RangeContext ctx, bool fenced, CancellationToken ct)
    {
        if (replicaOf(ctx.RangeId) is null)
        {
            throw new RangeErrorException(RangeErrors.RangeNotFound(store.StoreId, ctx.RangeId));
        }

        var result = await GuardAsync(ctx.RangeId, store.MembershipAsync(ctx.RangeId, g =>
        {
            var current = ((RangeReplica)g.Machine).Descriptor;
            return !fenced || RangeBounds.SameEpoch(ctx.Epoch, current.Epoch) ? null : RangeReplica.EpochNotMatch(current);
        }), ct).ConfigureAwait(false);
        return result switch
        {
            RangeError e => throw new RangeErrorException(e),
            MembershipView v => (replicaOf(ctx.RangeId)!.Descriptor, v),
            _ => throw new InvalidOperationException($"unexpected membership answer {result}"),
        };
    }

    /// <summary>
    /// <see cref="ViewAsync"/>, after waiting (up to about two election timeouts) for a change
    /// being applied to finish: a new leader has its predecessor's last entries pending for a
    /// moment, and an automatic leave-joint is in flight right after a joint change. A change
    /// still pending after that is refused by <see cref="RefuseMidChange"/>.
    /// </summary>
    private async Task<(RangeDescriptor Descriptor, MembershipView View)> SettledViewAsync(RangeContext ctx, bool fenced, CancellationToken ct)
    {
        var until = DateTime.UtcNow + transferTimeout;
        while (true)
        {
            var (d, view) = await ViewAsync(ctx, fenced, ct).ConfigureAwait(false);
            if (!view.ChangePending || DateTime.UtcNow > until)
            {
                return (d, view);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), ct).ConfigureAwait(false);
        }
    }

    /// <summary>Refuses a range that is mid-change: joint, a change pending, or a learner (other than allowedLearner) present.</summary>
    private static void RefuseMidChange(RangeDescriptor d, MembershipView view, ulong allowedLearner)
    {
        if (view.ConfState.IsJoint)
        {
            throw Refuse(StatusCode.FailedPrecondition,
                $"range {d.RangeId} is mid-change: in a joint configuration (voters {string.Join(' ', view.ConfState.Voters)} and {string.Join(' ', view.ConfState.VotersOutgoing)}); " +
                "wait for it to finish, or finish the move with replica move");
        }

        if (view.ChangePending)
        {
            throw Refuse(StatusCode.FailedPrecondition, $"range {d.RangeId} is mid-change: a membership change is being applied; retry when it is done");
        }

        var learner = d.Replicas.FirstOrDefault(r => r.Role == ReplicaRole.Learner && r.ReplicaId != allowedLearner);
        if (learner is not null)
        {
            throw Refuse(StatusCode.FailedPrecondition,
                $"range {d.RangeId} is mid-change: replica {learner.ReplicaId} on store {learner.StoreId} is a learner (an add or move that has not finished); " +
                $"finish it (replica add --store {learner.StoreId}) or roll it back (replica remove --store {learner.StoreId}) first");
        }
    }

    /// <summary>The store must be known to placement and Up.</summary>
    private async Task RequireUpStoreAsync(ulong storeId, CancellationToken ct)
    {
        var response = await placement.CallAsync(PlacementContract.ListStores, new ListStoresRequest { Header = new RequestHeader() }, r => r.Header, ct).ConfigureAwait(false);
        if (response.Header?.Error is { Code: not PlacementErrorCode.PlacementErrorNone } error)
        {
            throw new RangeErrorException(Unavailable(0, $"placement could not list the stores ({error.Message}); retry"));
        }

        var info = response.Stores.FirstOrDefault(s => s.Store.StoreId == storeId)
            ?? throw Refuse(StatusCode.FailedPrecondition,
                $"store {storeId} is not known to placement (known: {string.Join(", ", response.Stores.Select(s => s.Store.StoreId))}); start it, or name another store");
        if (info.State != StoreState.Up)
        {
            throw Refuse(StatusCode.FailedPrecondition, $"store {storeId} is {info.State} (not Up); bring it back up, or name another store");
        }

        if (stores is StoreDirectory directory)
        {
            directory.Learn(storeId, info.Store.Address);
        }
    }

    private async Task<ulong> AllocReplicaIdAsync(CancellationToken ct)
    {
        var response = await placement.CallAsync(PlacementContract.AllocId, new AllocIdRequest { Header = new RequestHeader(), Count = 1 }, r => r.Header, ct).ConfigureAwait(false);
        return response.Header?.Error is { Code: not PlacementErrorCode.PlacementErrorNone } error
            ? throw new RangeErrorException(Unavailable(0, $"placement did not allocate a replica id ({error.Message}); retry"))
            : response.First;
    }

    /// <summary>
    /// Proposes one membership change planned on d (its conf_ver is the one expected) and waits
    /// for it to apply here; returns the descriptor after it. Admission, on the driver thread:
    /// the descriptor's conf_ver is still d's and no change is pending.
    /// </summary>
    private async Task<RangeDescriptor> ChangeAsync(RangeDescriptor d, ConfChange change, ReplicaDescriptor[] added, CancellationToken ct, Func<RangeDescriptor, string?>? stillValid = null)
    {
        var expected = d.Epoch?.ConfVer ?? 0;
        var context = new ReplicaChange { ExpectedConfVer = expected, Replicas = { added } };
        var cc = change with { Context = context.ToByteArray() };
        var result = await GuardAsync(d.RangeId, store.ProposeConfChangeAsync(d.RangeId, cc, g =>
        {
            var current = ((RangeReplica)g.Machine).Descriptor;
            if ((current.Epoch?.ConfVer ?? 0) != expected)
            {
                return RangeReplica.EpochNotMatch(current);
            }

            if (stillValid?.Invoke(current) is { } why)
            {
                return why;
            }

            return g.PendingConfChange is not null || g.Node.HasPendingConfChange
                ? $"range {d.RangeId} is mid-change: a membership change is being applied; retry when it is done"
                : null;
        }), ct).ConfigureAwait(false);
        return result switch
        {
            RangeError e => throw new RangeErrorException(e),
            string reason => throw Refuse(StatusCode.FailedPrecondition, reason),
            _ => replicaOf(d.RangeId)?.Descriptor ?? throw new RangeErrorException(RangeErrors.RangeNotFound(store.StoreId, d.RangeId)),
        };
    }

    /// <summary>Waits until the learner's match index is near the leader's last index.</summary>
    private async Task WaitCaughtUpAsync(ulong rangeId, ReplicaDescriptor learner, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + CatchUpTimeout;
        while (true)
        {
            var result = await GuardAsync(rangeId, store.MembershipAsync(rangeId), ct).ConfigureAwait(false);
            if (result is MembershipView view)
            {
                var match = view.Match.GetValueOrDefault(learner.ReplicaId);
                if (!view.Match.ContainsKey(learner.ReplicaId))
                {
                    throw Refuse(StatusCode.Aborted, $"replica {learner.ReplicaId} on store {learner.StoreId} left range {rangeId} while it was catching up; nothing more was changed");
                }

                if (match > 0 && match + CatchUpSlack >= view.LastIndex)
                {
                    return;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new RangeErrorException(Unavailable(rangeId,
                        $"range {rangeId}: the learner on store {learner.StoreId} has not caught up within {CatchUpTimeout.TotalMinutes:0} min (it has {match} of {view.LastIndex}); " +
                        $"it stays a learner: call the same command again to continue, or roll back with replica remove --store {learner.StoreId}"));
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), ct).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the joint configuration to be left (the leader leaves it automatically; proposes it if that did not happen).</summary>
    private async Task<RangeDescriptor> LeaveJointAsync(ulong rangeId, CancellationToken ct)
    {
        var proposeAfter = DateTime.UtcNow + transferTimeout;
        while (true)
        {
            var result = await GuardAsync(rangeId, store.MembershipAsync(rangeId), ct).ConfigureAwait(false);
            if (result is MembershipView view)
            {
                var d = replicaOf(rangeId)!.Descriptor;
                if (!view.ConfState.IsJoint && !view.ChangePending)
                {
                    return d;
                }

                if (view.ConfState.IsJoint && !view.ChangePending && DateTime.UtcNow > proposeAfter)
                {
                    await ChangeAsync(d, ConfChange.LeaveJointChange, [], ct).ConfigureAwait(false);
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Hands this leader's leadership to the most up-to-date other voter and waits for it to take
    /// over; returns the NotLeader error that sends the client there.
    /// </summary>
    private async Task<RangeErrorException> MoveLeadershipOffAsync(RangeDescriptor d, MembershipView view, ulong exclude, CancellationToken ct)
    {
        var candidates = view.ConfState.Voters.Where(v => v != exclude && v != view.LeaderId).OrderByDescending(v => view.Match.GetValueOrDefault(v)).ToList();
        if (candidates.Count == 0)
        {
            throw Refuse(StatusCode.FailedPrecondition, $"range {d.RangeId} has no other voter to take over leadership from replica {exclude}");
        }

        var target = candidates[0];
        await GuardAsync(d.RangeId, store.TransferLeaderAsync(d.RangeId, target), ct).ConfigureAwait(false);
        var deadline = DateTime.UtcNow + transferTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var status = (await store.StatusAsync().WaitAsync(ct).ConfigureAwait(false)).FirstOrDefault(s => s.GroupId == d.RangeId);
            if (status.Lead == target)
            {
                return new RangeErrorException(RangeErrors.NotLeader(store.StoreId, replicaOf, stores, d.RangeId, target));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), ct).ConfigureAwait(false);
        }

        return new RangeErrorException(Unavailable(d.RangeId,
            $"range {d.RangeId}: leadership must leave replica {exclude} first, and replica {target} did not take over within {transferTimeout.TotalSeconds:0.#} s; retry"));
    }

    /// <summary>Awaits a store request, mapping leadership and existence failures to the routing errors.</summary>
    private async Task<object?> GuardAsync(ulong rangeId, Task<object?> request, CancellationToken ct)
    {
        try
        {
            return await request.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (GroupNotLeaderException e)
        {
            throw new RangeErrorException(RangeErrors.NotLeader(store.StoreId, replicaOf, stores, rangeId, e.LeaderMemberId));
        }
        catch (GroupNotFoundException)
        {
            throw new RangeErrorException(RangeErrors.RangeNotFound(store.StoreId, rangeId));
        }
        catch (InvalidOperationException e)
        {
            throw Refuse(StatusCode.FailedPrecondition, $"range {rangeId} is mid-change: {e.Message}");
        }
    }

    private static RangeError Unavailable(ulong rangeId, string message) => new()
    {
        Message = message,
        RangeUnavailable = new RangeUnavailable { RangeId = rangeId },
    };

    /// <summary>A routing error to answer with (in the response, not as a status).</summary>
    private sealed class RangeErrorException(RangeError error) : Exception(error.Message)
    {
        public RangeError Error { get; } = error;
    }
}
