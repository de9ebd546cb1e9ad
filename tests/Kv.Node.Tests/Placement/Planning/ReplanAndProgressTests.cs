using Kv.Node.Placement.Operations.Planning;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Planning.PlanningTestData;

namespace Kv.Node.Tests.Placement.Planning;

/// <summary>Planner.Replan after an epoch change, and Progress.Compute.</summary>
public sealed class ReplanAndProgressTests
{
    private static OperationRecord Record(OperationSpec spec, ClusterView view)
    {
        var outcome = Planner.Plan(spec, view);
        Assert.Null(outcome.Refusal);
        return new OperationRecord { Id = "op-1", Spec = spec, Plan = outcome.Plan, State = OperationState.Running };
    }

    [Fact]
    public void A_drain_replanned_after_a_split_covers_both_halves_and_keeps_what_is_done()
    {
        // 1. Plan the drain of store 1 over ranges 1 and 2.
        var stores = Stores("", "", "", "", "").ToList();
        var record = Record(Drain(1), View(stores, [Range(1, [1, 2, 3], end: "m"), Range(2, [1, 2, 3], start: "m")]));
        Assert.Equal(["Move r1 1->4", "Move r2 1->5"], Show(record.Plan));
        // 2. The first move is done; then range 2 splits at "t" into 2 [m, t) and 3 [t, end).
        record.Plan.Steps[0].State = StepState.Done;
        var now = View(stores, [
            Range(1, [4, 2, 3], end: "m", confVer: 2),
            Range(2, [1, 2, 3], start: "m", end: "t", version: 2),
            Range(3, [1, 2, 3], start: "t", version: 2)]);

        // 3. Replan.
        var outcome = Planner.Replan(record, now);

        Assert.Null(outcome.Refusal);
        Assert.Equal(["Move r1 1->4 [Done]", "Move r2 1->5 [Superseded]", "Move r2 1->5", "Move r3 1->4"], Show(outcome.Plan!));
        Assert.Equal(new RangeEpoch { ConfVer = 1, Version = 2 }, outcome.Plan!.Steps[3].Epoch);
        Assert.Equal([0u, 1u, 2u, 3u], outcome.Plan.Steps.Select(s => s.Index));
        Assert.Contains("changed under the plan", outcome.Plan.Steps[1].Error, StringComparison.Ordinal);
        // The input record is left as it was (a refusal or a replan changes nothing in place).
        Assert.Equal(2, record.Plan.Steps.Count);
        Assert.Equal(StepState.Pending, record.Plan.Steps[1].State);
    }

    [Fact]
    public void A_move_someone_else_already_made_becomes_skipped()
    {
        var stores = Stores("", "", "", "");
        var record = Record(Move(1, 1, 4), View(stores, [Range(1, [1, 2, 3])]));
        var now = View(stores, [Range(1, [4, 2, 3], confVer: 3)]);

        var plan = Planner.Replan(record, now).Plan!;

        Assert.Equal(["Move r1 1->4 [Skipped]"], Show(plan));
        Assert.StartsWith("already done", plan.Steps[0].Error, StringComparison.Ordinal);
        // Control: if the replica had not moved, the step is superseded and planned again.
        var again = Planner.Replan(record, View(stores, [Range(1, [1, 2, 3], learners: [4], confVer: 2)])).Plan!;
        Assert.Equal(["Move r1 1->4 [Superseded]", "Move r1 1->4"], Show(again));
        Assert.Equal(new RangeEpoch { ConfVer = 2, Version = 1 }, again.Steps[1].Epoch);
    }

    [Fact]
    public void A_split_replanned_follows_its_key_to_the_range_that_holds_it_now()
    {
        var stores = Stores("", "", "");
        var record = Record(Split(1, "p"), View(stores, [Range(1, [1, 2, 3])]));
        // Range 1 split at "k" meanwhile; "p" is now inside range 9.
        var now = View(stores, [Range(1, [1, 2, 3], end: "k", version: 2), Range(9, [1, 2, 3], start: "k", version: 2)]);

        var plan = Planner.Replan(record, now).Plan!;

        Assert.Equal(["Split r1 p [Superseded]", "Split r9 p"], Show(plan));
        // And once a range starts at "p", the split is already done.
        var done = View(stores, [Range(1, [1, 2, 3], end: "p", version: 2), Range(9, [1, 2, 3], start: "p", version: 2)]);
        Assert.Equal(["Split r1 p [Skipped]"], Show(Planner.Replan(record, done).Plan!));
    }

    [Fact]
    public void A_replan_the_view_makes_impossible_is_refused()
    {
        var stores = Stores("", "", "", "");
        var record = Record(Move(1, 1, 4), View(stores, [Range(1, [1, 2, 3])]));
        var now = View(stores.Select(s => s.Id.Value == 4 ? s with { Liveness = Liveness.Down } : s), [Range(1, [1, 2, 3], confVer: 2)]);

        var outcome = Planner.Replan(record, now);

        Assert.Equal(RefusalCode.NotEligible, outcome.Refusal?.Code);
        Assert.Contains("store 4 is down", outcome.Refusal!.Message, StringComparison.Ordinal);
    }

    private static Plan StepsOf(params ulong[] bytes)
    {
        var plan = new Plan();
        foreach (var b in bytes)
        {
            plan.Steps.Add(new PlanStep { Bytes = b, State = StepState.Pending });
        }

        return plan;
    }

    public static TheoryData<string, StepState[], ulong[], uint, uint, ulong, ulong, long> ProgressCases => new()
    {
        // name, states, bytes, ranges done, left, bytes done, left, eta (ms) at 10 s after a start at 1000
        { "nothing done: eta unknown", [StepState.Pending, StepState.Pending], [100, 100], 0, 2, 0, 200, 0 },
        { "half the bytes in 10 s: 10 s more", [StepState.Done, StepState.Running], [100, 100], 1, 1, 100, 100, 10_000 },
        { "rate by bytes, not by ranges", [StepState.Done, StepState.Pending, StepState.Pending], [300, 50, 50], 1, 2, 300, 100, 3_334 },
        { "skipped steps count as done but not toward the rate", [StepState.Skipped, StepState.Done, StepState.Pending], [1000, 100, 100], 2, 1, 1100, 100, 10_000 },
        { "superseded steps count as neither", [StepState.Superseded, StepState.Done, StepState.Pending], [500, 100, 100], 1, 1, 100, 100, 10_000 },
        { "empty ranges: rate by steps", [StepState.Done, StepState.Pending, StepState.Pending], [0, 0, 0], 1, 2, 0, 0, 20_000 },
        { "failed steps are left", [StepState.Done, StepState.Failed], [100, 100], 1, 1, 100, 100, 10_000 },
        { "all done: nothing left", [StepState.Done, StepState.Skipped], [100, 100], 2, 0, 200, 0, 0 },
    };

    [Theory]
    [MemberData(nameof(ProgressCases))]
    public void Progress_counts_ranges_and_bytes_and_extrapolates_the_rate(
        string name, StepState[] states, ulong[] bytes, uint done, uint left, ulong bytesDone, ulong bytesLeft, long eta)
    {
        var progress = Progress.Compute(StepsOf(bytes), states, nowMs: 11_000, startedMs: 1_000);

        var expected = new OperationProgress { RangesDone = done, RangesLeft = left, BytesDone = bytesDone, BytesLeft = bytesLeft, EtaMs = eta };
        Assert.True(expected.Equals(progress), $"{name}: {progress}");
    }

    [Fact]
    public void Progress_reads_the_plans_own_step_states_and_knows_no_eta_before_time_passes()
    {
        var plan = StepsOf(100, 100);
        plan.Steps[0].State = StepState.Done;

        Assert.Equal(10_000, Progress.Compute(plan, 11_000, 1_000).EtaMs);
        Assert.Equal(0, Progress.Compute(plan, 1_000, 1_000).EtaMs);
        Assert.Equal(0, Progress.Compute(plan, 11_000, 0).EtaMs);
        Assert.Throws<ArgumentException>(() => Progress.Compute(plan, [StepState.Done], 11_000, 1_000));
    }
}
