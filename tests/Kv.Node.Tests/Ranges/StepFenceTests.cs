using Google.Protobuf;
using Kv.Node.Raft;
using Kv.Node.Ranges.Changes;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Ranges;

/// <summary>
/// The epoch fence of plan steps (node/Ranges/Changes/StepFence.cs), case by case: exact epochs
/// proceed, the step's own later phases continue, its finished state is Done, and every other
/// change (a foreign change at a later conf_ver, a split, an older epoch) is Stale. Pure.
/// </summary>
public sealed class StepFenceTests
{
    private const ulong C = 5;
    private const ulong V = 2;

    private static ReplicaDescriptor R(ulong id, ulong store, ReplicaRole role = ReplicaRole.Voter) => new() { ReplicaId = id, StoreId = store, Role = role };

    private static RangeDescriptor D(ulong confVer, ulong version, params ReplicaDescriptor[] replicas) => new()
    {
        RangeId = 7,
        StartKey = ByteString.CopyFromUtf8("a"),
        EndKey = ByteString.CopyFromUtf8("z"),
        Epoch = new RangeEpoch { ConfVer = confVer, Version = version },
        Replicas = { replicas },
    };

    /// <summary>The configuration a descriptor implies when not joint.</summary>
    private static ConfState Cs(RangeDescriptor d) => new(
        [.. d.Replicas.Where(r => r.Role == ReplicaRole.Voter).Select(r => r.ReplicaId).Order()],
        [.. d.Replicas.Where(r => r.Role == ReplicaRole.Learner).Select(r => r.ReplicaId).Order()], [], [], false);

    private static PlanStep Step(StepKind kind, ulong store = 0, ulong from = 0, ulong to = 0, string? key = null) => new()
    {
        Kind = kind,
        RangeId = 7,
        Epoch = new RangeEpoch { ConfVer = C, Version = V },
        StoreId = store,
        FromStoreId = from,
        ToStoreId = to,
        SplitKey = key is null ? ByteString.Empty : ByteString.CopyFromUtf8(key),
    };

    /// <summary>Every case: a name, the step, the range now, its configuration, and the verdict the fence must give.</summary>
    internal static IEnumerable<(string Name, PlanStep Step, RangeDescriptor Now, ConfState Cs, FenceVerdict Expected)> Cases()
    {
        var add = Step(StepKind.AddReplica, store: 4);
        yield return ("add: as planned", add, D(C, V, R(1, 1), R(2, 2), R(3, 3)), Cs(D(C, V, R(1, 1), R(2, 2), R(3, 3))), FenceVerdict.Proceed);
        var addLearner = D(C + 1, V, R(1, 1), R(2, 2), R(3, 3), R(9, 4, ReplicaRole.Learner));
        yield return ("add: its own learner added", add, addLearner, Cs(addLearner), FenceVerdict.Proceed);
        var addDone = D(C + 2, V, R(1, 1), R(2, 2), R(3, 3), R(9, 4));
        yield return ("add: its learner promoted", add, addDone, Cs(addDone), FenceVerdict.AlreadyDone);
        var addDoneFromLearner = D(C + 1, V, R(1, 1), R(2, 2), R(3, 3), R(9, 4));
        yield return ("add: planned on its learner, promoted", add, addDoneFromLearner, Cs(addDoneFromLearner), FenceVerdict.AlreadyDone);
        var addTooFar = D(C + 3, V, R(1, 1), R(2, 2), R(3, 3), R(9, 4));
        yield return ("add: voter on the store but one change more than the step has (foreign)", add, addTooFar, Cs(addTooFar), FenceVerdict.Stale);
        var foreign = D(C + 1, V, R(1, 1), R(2, 2));
        yield return ("add: a foreign removal since planning", add, foreign, Cs(foreign), FenceVerdict.Stale);
        var twoLearners = D(C + 1, V, R(1, 1), R(2, 2), R(3, 3), R(9, 4, ReplicaRole.Learner), R(10, 5, ReplicaRole.Learner));
        yield return ("add: a second learner is not this step's shape", add, twoLearners, Cs(twoLearners), FenceVerdict.Stale);
        yield return ("add: a split since planning", add, D(C, V + 1, R(1, 1), R(2, 2), R(3, 3)), Cs(D(C, V, R(1, 1), R(2, 2), R(3, 3))), FenceVerdict.Stale);
        yield return ("add: an epoch older than planned", add, D(C - 1, V, R(1, 1), R(2, 2), R(3, 3)), Cs(D(C, V, R(1, 1), R(2, 2), R(3, 3))), FenceVerdict.Stale);

        var remove = Step(StepKind.RemoveReplica, store: 3);
        var removed = D(C + 1, V, R(1, 1), R(2, 2));
        yield return ("remove: its removal applied", remove, removed, Cs(removed), FenceVerdict.AlreadyDone);
        var removedTwice = D(C + 2, V, R(1, 1), R(2, 2));
        yield return ("remove: gone, but two changes since (foreign)", remove, removedTwice, Cs(removedTwice), FenceVerdict.Stale);
        var stillThere = D(C + 1, V, R(1, 1), R(3, 3));
        yield return ("remove: another replica went instead", remove, stillThere, Cs(stillThere), FenceVerdict.Stale);

        var move = Step(StepKind.MoveReplica, from: 3, to: 4);
        var moveLearner = D(C + 1, V, R(1, 1), R(2, 2), R(3, 3), R(9, 4, ReplicaRole.Learner));
        yield return ("move: its learner added", move, moveLearner, Cs(moveLearner), FenceVerdict.Proceed);
        var joint = D(C + 2, V, R(1, 1), R(2, 2), R(3, 3), R(9, 4));
        yield return ("move: its joint swap applied", move, joint, new ConfState([1, 2, 9], [], [1, 2, 3], [], true), FenceVerdict.Proceed);
        yield return ("move: a joint swap the other way round", move, joint, new ConfState([1, 2, 3], [], [1, 2, 9], [], true), FenceVerdict.Stale);
        var moved = D(C + 3, V, R(1, 1), R(2, 2), R(9, 4));
        yield return ("move: finished", move, moved, Cs(moved), FenceVerdict.AlreadyDone);
        var movedFromJoint = D(C + 1, V, R(1, 1), R(2, 2), R(9, 4));
        yield return ("move: planned in its joint state, left", move, movedFromJoint, Cs(movedFromJoint), FenceVerdict.AlreadyDone);
        var learnerElsewhere = D(C + 1, V, R(1, 1), R(2, 2), R(3, 3), R(9, 5, ReplicaRole.Learner));
        yield return ("move: a learner on another store", move, learnerElsewhere, Cs(learnerElsewhere), FenceVerdict.Stale);

        var split = Step(StepKind.Split, key: "m");
        yield return ("split: as planned", split, D(C, V, R(1, 1)), Cs(D(C, V, R(1, 1))), FenceVerdict.Proceed);
        var splitDone = D(C, V + 1, R(1, 1));
        splitDone.EndKey = ByteString.CopyFromUtf8("m");
        yield return ("split: applied at its key", split, splitDone, Cs(splitDone), FenceVerdict.AlreadyDone);
        var splitElsewhere = D(C, V + 1, R(1, 1));
        splitElsewhere.EndKey = ByteString.CopyFromUtf8("k");
        yield return ("split: another split since planning", split, splitElsewhere, Cs(splitElsewhere), FenceVerdict.Stale);
        var splitTwice = splitDone.Clone();
        splitTwice.Epoch.Version = V + 2;
        yield return ("split: two splits since planning", split, splitTwice, Cs(splitTwice), FenceVerdict.Stale);
        var splitAndChange = splitDone.Clone();
        splitAndChange.Epoch.ConfVer = C + 1;
        yield return ("split: applied, and a membership change since", split, splitAndChange, Cs(splitAndChange), FenceVerdict.Stale);

        var transfer = Step(StepKind.TransferLeader, store: 2);
        yield return ("transfer: as planned", transfer, D(C, V, R(1, 1), R(2, 2)), Cs(D(C, V, R(1, 1), R(2, 2))), FenceVerdict.Proceed);
        yield return ("transfer: a membership change since", transfer, D(C + 1, V, R(1, 1), R(2, 2)), Cs(D(C, V, R(1, 1), R(2, 2))), FenceVerdict.Stale);
    }

    public static TheoryData<string> CaseNames() => [.. Cases().Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void The_fence_gives_each_case_its_verdict(string name)
    {
        var c = Cases().Single(x => x.Name == name);
        Assert.Equal(c.Expected, StepFence.Check(c.Step, c.Now, c.Cs).Verdict);
    }

    [Fact]
    public void A_resumed_step_reports_the_phase_it_continues_from_and_how_far_behind_the_plan_is()
    {
        var step = Step(StepKind.MoveReplica, from: 3, to: 4);
        var fence = StepFence.Check(step, D(C + 2, V, R(1, 1), R(2, 2), R(3, 3), R(9, 4)), new ConfState([1, 2, 9], [], [1, 2, 3], [], true));
        Assert.Equal(new Fence(FenceVerdict.Proceed, 2, 2), fence);
    }

    /// <summary>
    /// Negative control: a fence that trusts any later conf_ver at the same version (what a naive
    /// "resumable" check would do) is caught by the table, on the foreign-change cases.
    /// </summary>
    [Fact]
    public void The_table_catches_a_fence_that_trusts_any_later_conf_ver()
    {
        static FenceVerdict Naive(PlanStep step, RangeDescriptor now, ConfState cs)
        {
            var real = StepFence.Check(step, now, cs);
            var later = now.Epoch.Version == step.Epoch.Version && now.Epoch.ConfVer > step.Epoch.ConfVer;
            return real.Verdict == FenceVerdict.Stale && later ? FenceVerdict.Proceed : real.Verdict;
        }

        var caught = Cases().Where(c => Naive(c.Step, c.Now, c.Cs) != c.Expected).Select(c => c.Name).ToList();
        Assert.Contains("add: a foreign removal since planning", caught);
        Assert.Contains("remove: another replica went instead", caught);
        Assert.Contains("move: a learner on another store", caught);
        Assert.Contains("transfer: a membership change since", caught);
    }

    [Fact]
    public void A_malformed_step_is_refused_before_anything_is_read()
    {
        Assert.Equal(RefusalKind.BadStep, ReplicaChangeEngine.Validate(new PlanStep { Kind = StepKind.AddReplica }, 4096)!.Kind);
        Assert.Contains("two different stores", ReplicaChangeEngine.Validate(Step(StepKind.MoveReplica, from: 3, to: 3), 4096)!.Reason, StringComparison.Ordinal);
        Assert.Contains("split_key is empty", ReplicaChangeEngine.Validate(Step(StepKind.Split), 4096)!.Reason, StringComparison.Ordinal);
        Assert.Contains("limit is 4", ReplicaChangeEngine.Validate(Step(StepKind.Split, key: "toolong"), 4)!.Reason, StringComparison.Ordinal);
        Assert.Contains("not one", ReplicaChangeEngine.Validate(Step(StepKind.Unspecified), 4096)!.Reason, StringComparison.Ordinal);
        Assert.Null(ReplicaChangeEngine.Validate(Step(StepKind.MoveReplica, from: 3, to: 4), 4096));
    }
}
