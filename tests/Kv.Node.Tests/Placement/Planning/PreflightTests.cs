using Kv.Node.Placement.Operations.Planning;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Planning.PlanningTestData;

namespace Kv.Node.Tests.Placement.Planning;

/// <summary>
/// The preflight: "if one more store fails during this step, which ranges lose quorum?"
/// (PreflightCheck.cs, rule at its top). Each row is checked against the real model, and the broken
/// models (negative controls) must get at least one row wrong.
/// </summary>
public sealed class PreflightTests
{
    private sealed record Case(Func<ClusterView> View, Func<PlanStep> Step, int Before, int During, int After, bool Safe);

    private static ClusterView Five(params ulong[] down) =>
        View(Enumerable.Range(1, 6).Select(i => Store((ulong)i, up: !down.Contains((ulong)i))), [Range(1, [1, 2, 3, 4, 5])]);

    private static ClusterView Three(params ulong[] down) =>
        View(Enumerable.Range(1, 4).Select(i => Store((ulong)i, up: !down.Contains((ulong)i))), [Range(1, [1, 2, 3], learners: [4])]);

    private static PlanStep MoveStep(ulong from, ulong to) => new() { Kind = StepKind.MoveReplica, RangeId = 1, FromStoreId = from, ToStoreId = to, State = StepState.Pending };

    private static PlanStep RemoveStep(ulong store) => new() { Kind = StepKind.RemoveReplica, RangeId = 1, StoreId = store, State = StepState.Pending };

    private static PlanStep AddStep(ulong store) => new() { Kind = StepKind.AddReplica, RangeId = 1, StoreId = store, State = StepState.Pending };

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["remove a voter of a healthy three"] = new(() => Three(), () => RemoveStep(3), 1, 0, 0, false),
        ["move among up stores (joint)"] = new(() => View(Stores("", "", "", ""), [Range(1, [1, 2, 3])]), () => MoveStep(1, 4), 1, 1, 1, true),
        ["move off a down store"] = new(() => View(Enumerable.Range(1, 4).Select(i => Store((ulong)i, up: i != 1)), [Range(1, [1, 2, 3])]), () => MoveStep(1, 4), 0, 0, 1, true),
        ["move while another voter is down"] = new(() => View(Enumerable.Range(1, 4).Select(i => Store((ulong)i, up: i != 3)), [Range(1, [1, 2, 3])]), () => MoveStep(1, 4), 0, 0, 0, true),
        ["remove one of five"] = new(() => Five(), () => RemoveStep(5), 2, 1, 1, true),
        ["remove one of five with one down"] = new(() => Five(4), () => RemoveStep(5), 1, 0, 0, false),
        ["remove the down voter of five"] = new(() => Five(4), () => RemoveStep(4), 1, 1, 1, true),
        ["remove the down voter of three"] = new(() => Three(3), () => RemoveStep(3), 0, 0, 0, true),
        ["remove a learner"] = new(() => Three(), () => RemoveStep(4), 1, 1, 1, true),
        ["add a voter to two"] = new(() => View(Stores("", "", ""), [Range(1, [1, 2])]), () => AddStep(3), 0, 1, 1, true),
        ["add a voter on a down store to three"] = new(() => View(Enumerable.Range(1, 4).Select(i => Store((ulong)i, up: i != 4)), [Range(1, [1, 2, 3])]), () => AddStep(4), 1, 0, 0, false),
        ["split keeps the voters"] = new(() => Three(3), () => new PlanStep { Kind = StepKind.Split, RangeId = 1, State = StepState.Pending }, 0, 0, 0, true),
    };

    public static TheoryData<string> Names => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(Names))]
    public void Each_step_reports_the_tolerance_before_during_and_after(string name)
    {
        var c = Cases[name];
        var plan = new Plan();
        plan.Steps.Add(c.Step());

        var preflight = PreflightCheck.Compute(plan, c.View());

        Assert.True(c.Safe == preflight.Safe, $"{name}: safe {preflight.Safe}: {string.Join("; ", preflight.Risks.Select(r => r.Reason))}");
        var observed = preflight.Risks.SingleOrDefault() is { } risk ? (risk.ToleranceBefore, risk.ToleranceDuring, risk.ToleranceAfter) : (c.Before, c.During, c.After);
        Assert.True((c.Before, c.During, c.After) == observed, $"{name}: {observed}");
        // A risk is reported exactly when one more failure, during or after, would lose quorum.
        Assert.Equal(Math.Min(c.During, c.After) < 1, preflight.Risks.Count == 1);
    }

    public static TheoryData<string, bool, bool, string> BrokenModels => new()
    {
        // A preflight that treats a joint move as switching straight to the new voters.
        { "ignores the joint phase", true, false, "move off a down store" },
        // A preflight that counts voters on down stores as healthy.
        { "ignores down stores", false, true, "remove one of five with one down" },
    };

    [Theory]
    [MemberData(nameof(BrokenModels))]
    public void A_broken_preflight_is_caught(string name, bool countDown, bool joint, string caughtBy)
    {
        var model = new ToleranceModel(countDown, joint);
        var c = Cases[caughtBy];
        var plan = new Plan();
        plan.Steps.Add(c.Step());

        var broken = PreflightCheck.Compute(plan, c.View(), model);
        var correct = PreflightCheck.Compute(plan, c.View());

        Assert.NotEqual(correct, broken);
        var wrong = Cases.Count(kv =>
        {
            var p = new Plan();
            p.Steps.Add(kv.Value.Step());
            var result = PreflightCheck.Compute(p, kv.Value.View(), model);
            var risk = result.Risks.SingleOrDefault();
            return result.Safe != kv.Value.Safe || (risk is not null && (risk.ToleranceBefore, risk.ToleranceDuring, risk.ToleranceAfter) != (kv.Value.Before, kv.Value.During, kv.Value.After)) || (risk is null) != (Math.Min(kv.Value.During, kv.Value.After) >= 1);
        });
        Assert.True(wrong > 0, $"the table does not catch a preflight that {name}");
    }

    [Fact]
    public void Steps_on_one_range_are_simulated_in_order()
    {
        // Three removals from five healthy voters: 5 -> 4 -> 3 voters keep tolerance 1, the third
        // leaves two voters and tolerance 0. Each step alone, against the five, would look safe.
        var plan = new Plan();
        plan.Steps.Add(RemoveStep(5));
        plan.Steps.Add(RemoveStep(4));
        plan.Steps.Add(RemoveStep(3));
        plan.Steps[1].Index = 1;
        plan.Steps[2].Index = 2;

        var preflight = PreflightCheck.Compute(plan, Five());

        Assert.False(preflight.Safe);
        var risk = Assert.Single(preflight.Risks);
        Assert.Equal((2u, 1, 0), (risk.Step, risk.ToleranceBefore, risk.ToleranceAfter));
        var alone = new Plan();
        alone.Steps.Add(RemoveStep(3));
        Assert.True(PreflightCheck.Compute(alone, Five()).Safe);
        Assert.Contains("if one more store fails during this step, range 1 loses quorum", risk.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Done_and_superseded_steps_are_not_checked()
    {
        var plan = new Plan();
        plan.Steps.Add(RemoveStep(3));
        plan.Steps[0].State = StepState.Done;
        plan.Steps.Add(RemoveStep(3));
        plan.Steps[1].State = StepState.Superseded;

        Assert.True(PreflightCheck.Compute(plan, Three()).Safe);
    }

    [Fact]
    public void An_unsafe_removal_is_refused_unless_forced_with_a_reason()
    {
        var view = Three();

        var refused = Planner.Plan(Remove(1, 3), view);
        Assert.Equal(RefusalCode.Unsafe, refused.Refusal?.Code);
        Assert.StartsWith("refused as unsafe: step 0: removing store 3's voter leaves range 1 unable to survive one more store failure (tolerance 1 before, 0 during, 0 after)", refused.Refusal!.Message, StringComparison.Ordinal);
        Assert.EndsWith("or override with --force --reason \"...\" (audited)", refused.Refusal.Message, StringComparison.Ordinal);
        // The unsafe plan is still shown (a dry run prints it with its risks).
        Assert.False(refused.Plan!.Preflight.Safe);
        Assert.Equal(["Remove r1 s3"], Show(refused.Plan));

        Assert.Equal(RefusalCode.ForceWithoutReason, Planner.Plan(Remove(1, 3, force: true), view).Refusal?.Code);

        var forced = Planner.Plan(Remove(1, 3, force: true), view, "host 3 is being decommissioned, ticket OPS-12");
        Assert.Null(forced.Refusal);
        Assert.False(forced.Plan!.Preflight.Safe);
    }

    [Fact]
    public void The_force_check_is_exposed_for_callers()
    {
        Assert.Null(PreflightCheck.CheckForce(false, null));
        Assert.Null(PreflightCheck.CheckForce(true, "replacing a failed disk"));
        Assert.Equal(RefusalCode.ForceWithoutReason, PreflightCheck.CheckForce(true, "")?.Code);
        Assert.Equal(RefusalCode.ForceWithoutReason, PreflightCheck.Admit(new Preflight { Safe = true }, true, null)?.Code);
        Assert.Null(PreflightCheck.Admit(new Preflight { Safe = false }, true, "why"));
        Assert.Equal(RefusalCode.Unsafe, PreflightCheck.Admit(new Preflight { Safe = false }, false, null)?.Code);
    }
}
