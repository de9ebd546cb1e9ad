using Kv.Node.Raft;
using Kv.Proto.V1;

namespace Kv.Node.Ranges.Changes;

/// <summary>What the epoch fence decides for a step against the range as it is now.</summary>
internal enum FenceVerdict
{
    /// <summary>Go on from <see cref="Fence.Phase"/>: the range is as planned, or further along this very step.</summary>
    Proceed,

    /// <summary>The range is exactly what this step produces: an earlier execution finished it. Answer Done, change nothing.</summary>
    AlreadyDone,

    /// <summary>The range changed in a way this step does not explain: EpochChanged, change nothing.</summary>
    Stale,
}

/// <summary>
/// The fence's verdict. Phase: how far the step has got by the range's shape (0 = not started;
/// for AddReplica 1 = learner added, 2 = promoted; RemoveReplica 1 = removed; MoveReplica 1 =
/// learner added, 2 = joint swap applied, 3 = joint left), -1 when the shape is none of them.
/// Behind: current conf_ver minus the planned one (the membership changes applied since planning).
/// </summary>
internal readonly record struct Fence(FenceVerdict Verdict, int Phase, ulong Behind);

/// <summary>
/// The epoch fence of a plan step (DESIGN.md section 8: "applying a step whose range epoch has
/// changed since it was planned is refused"), made precise for steps that take several Raft
/// changes and may be executed again after an interruption (a leader that died, a caller that
/// gave up, an executor that persisted "learner still catching up" and comes back later). Pure.
///
/// The step carries the epoch the plan saw, (c, v) = (conf_ver, version). The range is now at
/// (c', v'), with the membership configuration cs. The fence answers:
///  1. Split and TransferLeader take no membership change: they proceed only at exactly (c, v).
///     A Split also recognises its own result: v' = v + 1, c' = c and the range now ends at the
///     step's split key is the state this split leaves (one split since planning, at this key,
///     keeping this range id on the left): AlreadyDone. Anything else is Stale.
///  2. AddReplica, RemoveReplica and MoveReplica never change the version: v' != v is Stale.
///  3. Each of their phases is exactly one membership change (one conf_ver), in a fixed order,
///     and each phase leaves a shape (store s, from f, to t):
///       AddReplica(s):    0: s holds nothing          1: s holds the only learner      2: s holds a voter
///       RemoveReplica(s): 0: s holds a replica        1: s holds nothing
///       MoveReplica(f,t): 0: f voter, t nothing       1: f voter, t the only learner
///                         2: joint, t incoming voter, f outgoing only                   3: t voter, f nothing
///     with "not joint" in every shape but Move's 2. Let p be the phase the shape shows and
///     k = c' - c. k &lt; 0 is Stale. k = 0 proceeds from p (the step itself refuses a start it cannot
///     work from, with the reason, as the Admin calls always did). k &gt; 0 is our own earlier work
///     exactly when the shape is one of the step's phases and k &lt;= p: the plan saw phase p - k,
///     and the k changes since are this step's own phases p - k + 1 .. p. Then it proceeds from p,
///     or is AlreadyDone when p is the last phase. Anything else is Stale.
///  4. Why 3 cannot mistake another change for ours: the engine admits no membership change on a
///     range with a learner other than that learner's promotion, its joint swap or its removal,
///     none in a joint configuration but leaving it, and each proposal carries the conf_ver it
///     expects (checked on the driver thread when proposing, and at apply). So from a shape of
///     phase q the next change can only produce q + 1 of the same step or a shape that is no
///     phase of it; a learner on s at c + 1 can only be the one this step added.
///  5. After the fence, every proposal is admitted only at the conf_ver the fence looked at, so
///     nothing can change between the verdict and the change.
/// Stale and AlreadyDone change nothing; the caller answers EpochChanged or Done.
/// </summary>
internal static class StepFence
{
    public static int LastPhase(StepKind kind) => kind switch
    {
        StepKind.AddReplica => 2,
        StepKind.RemoveReplica => 1,
        StepKind.MoveReplica => 3,
        _ => 0,
    };

    public static Fence Check(PlanStep step, RangeDescriptor current, ConfState cs)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(cs);
        var (c, v) = (step.Epoch?.ConfVer ?? 0, step.Epoch?.Version ?? 0);
        var (c2, v2) = (current.Epoch?.ConfVer ?? 0, current.Epoch?.Version ?? 0);
        switch (step.Kind)
        {
            case StepKind.Split:
                if (c2 == c && v2 == v)
                {
                    return new Fence(FenceVerdict.Proceed, 0, 0);
                }

                return c2 == c && v2 == v + 1 && !step.SplitKey.IsEmpty && current.EndKey.Equals(step.SplitKey)
                    ? new Fence(FenceVerdict.AlreadyDone, 1, 0)
                    : Stale;
            case StepKind.TransferLeader:
                return c2 == c && v2 == v ? new Fence(FenceVerdict.Proceed, 0, 0) : Stale;
            case StepKind.AddReplica or StepKind.RemoveReplica or StepKind.MoveReplica:
                break;
            default:
                return Stale;
        }

        if (v2 != v || c2 < c)
        {
            return Stale;
        }

        var p = Phase(step, current, cs);
        var k = c2 - c;
        if (k == 0)
        {
            return new Fence(FenceVerdict.Proceed, p, 0);
        }

        if (p < 0 || k > (ulong)p)
        {
            return Stale;
        }

        return new Fence(p == LastPhase(step.Kind) ? FenceVerdict.AlreadyDone : FenceVerdict.Proceed, p, k);
    }

    private static Fence Stale => new(FenceVerdict.Stale, -1, 0);

    /// <summary>The phase the range's shape shows for the step (the table in the type's comment), or -1.</summary>
    public static int Phase(PlanStep step, RangeDescriptor d, ConfState cs)
    {
        switch (step.Kind)
        {
            case StepKind.AddReplica:
                {
                    if (cs.IsJoint)
                    {
                        return -1;
                    }

                    var r = OnStore(d, step.StoreId);
                    return r is null ? 0
                        : r.Role == ReplicaRole.Voter ? 2
                        : LearnerCount(d) == 1 ? 1 : -1;
                }

            case StepKind.RemoveReplica:
                return cs.IsJoint ? -1 : OnStore(d, step.StoreId) is null ? 1 : 0;
            case StepKind.MoveReplica:
                {
                    var from = OnStore(d, step.FromStoreId);
                    var to = OnStore(d, step.ToStoreId);
                    if (cs.IsJoint)
                    {
                        return from is not null && to is not null
                            && Array.IndexOf(cs.Voters, to.ReplicaId) >= 0
                            && Array.IndexOf(cs.VotersOutgoing, from.ReplicaId) >= 0
                            && Array.IndexOf(cs.Voters, from.ReplicaId) < 0 ? 2 : -1;
                    }

                    if (from is { Role: ReplicaRole.Voter } && to is null)
                    {
                        return 0;
                    }

                    if (from is { Role: ReplicaRole.Voter } && to is { Role: ReplicaRole.Learner } && LearnerCount(d) == 1)
                    {
                        return 1;
                    }

                    return from is null && to is { Role: ReplicaRole.Voter } ? 3 : -1;
                }

            default:
                return -1;
        }
    }

    private static ReplicaDescriptor? OnStore(RangeDescriptor d, ulong storeId)
    {
        foreach (var r in d.Replicas)
        {
            if (r.StoreId == storeId)
            {
                return r;
            }
        }

        return null;
    }

    private static int LearnerCount(RangeDescriptor d)
    {
        var n = 0;
        foreach (var r in d.Replicas)
        {
            n += r.Role == ReplicaRole.Learner ? 1 : 0;
        }

        return n;
    }
}
