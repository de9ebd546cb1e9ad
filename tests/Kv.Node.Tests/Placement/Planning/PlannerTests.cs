using Kv.Node.Placement.Operations.Planning;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Planning.PlanningTestData;

namespace Kv.Node.Tests.Placement.Planning;

/// <summary>Planner.Plan: targets, drains, refusals (Planner.cs, contract at its top).</summary>
public sealed class PlannerTests
{
    // Six stores in three zones, two per zone; range 1 has a voter in each zone (stores 1, 2, 3).
    private static ClusterView Zones(params StoreView[] overrides)
    {
        var stores = Stores("zone=a,host=h1", "zone=b,host=h2", "zone=c,host=h3", "zone=a,host=h4", "zone=b,host=h5", "zone=c,host=h6")
            .Select(s => overrides.FirstOrDefault(o => o.Id == s.Id) ?? s);
        return View(stores, [Range(1, [1, 2, 3], bytes: 5000, confVer: 4, version: 2)]);
    }

    private static Plan Planned(OperationSpec spec, ClusterView view, string? reason = null)
    {
        var outcome = Planner.Plan(spec, view, reason);
        Assert.True(outcome.Refusal is null, $"refused: {outcome.Refusal?.Code} {outcome.Refusal?.Message}");
        return outcome.Plan!;
    }

    [Fact]
    public void A_chosen_move_target_keeps_voters_in_distinct_zones()
    {
        // Stores 5 and 6 are emptier and roomier than store 4, but they share zones b and c with
        // the voters that stay; a planner that ignored failure domains would pick one of them.
        var view = Zones(Store(4, "zone=a,host=h4", replicas: 9, availableGiB: 10), Store(5, "zone=b,host=h5", availableGiB: 900));

        var plan = Planned(Move(1, from: 1), view);

        Assert.Equal(["Move r1 1->4"], Show(plan));
        var step = plan.Steps[0];
        Assert.Equal(new RangeEpoch { ConfVer = 4, Version = 2 }, step.Epoch);
        Assert.Equal(5000UL, step.Bytes);
        Assert.Equal("move range 1's replica from store 1 (zone a) to store 4 (zone a), moving its leadership off the source", step.Description);
        Assert.True(plan.Preflight.Safe);
    }

    public static TheoryData<string, int[], ulong[], ulong> Preferences => new()
    {
        // name, replica counts of stores 4..6, available GiB of stores 4..6, expected target
        { "fewer replicas wins over more space", [5, 1, 3], [900, 10, 500], 5 },
        { "then more available bytes", [2, 2, 2], [50, 200, 100], 5 },
        { "then the lower store id", [2, 2, 2], [100, 100, 100], 4 },
        { "fewest replicas on the highest id", [3, 3, 0], [100, 900, 1], 6 },
    };

    [Theory]
    [MemberData(nameof(Preferences))]
    public void The_target_is_the_store_with_fewest_replicas_then_most_space_then_lowest_id(string name, int[] replicas, ulong[] available, ulong expected)
    {
        var stores = Stores("", "", "").Concat(
            Enumerable.Range(0, 3).Select(i => Store((ulong)(4 + i), replicas: replicas[i], availableGiB: available[i])));
        var view = View(stores, [Range(1, [1, 2, 3])]);

        var plan = Planned(Move(1, from: 2), view);

        Assert.True(plan.Steps[0].ToStoreId == expected, $"{name}: chose store {plan.Steps[0].ToStoreId}, expected {expected}");
    }

    [Fact]
    public void The_same_spec_and_view_always_give_the_same_plan()
    {
        var view = View(Stores("", "", "", "", ""), Enumerable.Range(1, 6).Select(i => Range((ulong)i, [1, 2, 3])));

        Assert.Equal(Planned(Drain(1), view), Planned(Drain(1), view));
    }

    [Fact]
    public void A_drain_spreads_its_moves_by_counting_what_it_already_sent()
    {
        // Stores 4 and 5 start equal; a planner that did not count its own moves would send all to 4.
        var view = View(Stores("", "", "", "", ""), Enumerable.Range(1, 4).Select(i => Range((ulong)i, [1, 2, 3])));

        var plan = Planned(Drain(1), view);

        Assert.Equal(["Move r1 1->4", "Move r2 1->5", "Move r3 1->4", "Move r4 1->5"], Show(plan));
        Assert.Equal([0u, 1u, 2u, 3u], plan.Steps.Select(s => s.Index));
        Assert.Empty(plan.Notes);
    }

    [Fact]
    public void A_drain_removes_a_learner_instead_of_moving_it()
    {
        var view = View(Stores("", "", "", ""), [Range(1, [2, 3, 4], learners: [1]), Range(2, [1, 2, 3])]);

        var plan = Planned(Drain(1), view);

        Assert.Equal(["Remove r1 s1", "Move r2 1->4"], Show(plan));
        Assert.Equal("remove range 1's learner from store 1", plan.Steps[0].Description);
    }

    [Fact]
    public void A_drain_reports_each_range_it_cannot_move_and_why_every_store_was_rejected()
    {
        // Range 1 already has a replica on every store but 5, and 5 is in maintenance; range 2 can go to 3.
        var stores = Stores("", "", "", "").Append(Store(5, maintenance: true));
        var view = View(stores, [Range(1, [1, 2, 3], learners: [4]), Range(2, [1, 2, 4])]);

        var outcome = Planner.Plan(Drain(1), view);

        Assert.Null(outcome.Refusal);
        Assert.Equal(["Move r2 1->3"], Show(outcome.Plan!));
        var stuck = Assert.Single(outcome.Stuck);
        Assert.Equal(1UL, stuck.RangeId);
        Assert.Equal(
            "no eligible store: store 2 already holds a replica of range 1; store 3 already holds a replica of range 1; store 4 already holds a replica of range 1; store 5 is in maintenance",
            stuck.Reason);
        Assert.Contains(outcome.Plan!.Notes, n => n.StartsWith("range 1 cannot leave store 1 yet: no eligible store", StringComparison.Ordinal));
    }

    [Fact]
    public void A_drain_of_an_empty_store_is_an_empty_plan_that_says_so()
    {
        var plan = Planned(Drain(4), View(Stores("", "", "", ""), [Range(1, [1, 2, 3])]));

        Assert.Empty(plan.Steps);
        Assert.Equal(["store 4 holds no replicas: nothing to move"], plan.Notes);
    }

    [Fact]
    public void A_replacement_moves_every_replica_off_a_down_store()
    {
        var stores = Stores("", "", "", "").Select(s => s.Id.Value == 1 ? s with { Liveness = Liveness.Down } : s);
        var view = View(stores, [Range(1, [1, 2, 3]), Range(2, [2, 1, 3], learners: [])]);

        var plan = Planned(Replace(1), view);

        Assert.Equal(["Move r1 1->4", "Move r2 1->4"], Show(plan));
        Assert.True(plan.Preflight.Safe);
    }

    [Fact]
    public void A_drain_does_not_count_the_draining_store_as_a_failure_domain()
    {
        // Zones a, b, c, c and no hosts: with store 1 (zone a) leaving, the active stores span two
        // zones, so range 1 cannot keep three voters apart. Counting store 1 would make zones look
        // sufficient and, worse, could stack two voters in zone c.
        var view = View(Stores("zone=a", "zone=b", "zone=c", "zone=c"), [Range(1, [1, 2, 3])]);

        var outcome = Planner.Plan(Drain(1), view);

        Assert.Equal(RefusalCode.PlacementImpossible, outcome.Refusal?.Code);
        Assert.Contains("store 4 would share", outcome.Refusal!.Message, StringComparison.Ordinal);
        Assert.Contains("labels make placement impossible", outcome.Refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_split_records_the_epoch_and_the_key()
    {
        var view = View(Stores("", "", ""), [Range(1, [1, 2, 3], start: "a", end: "m", confVer: 3, version: 7)]);

        var plan = Planned(Split(1, "f"), view);

        Assert.Equal(["Split r1 f"], Show(plan));
        Assert.Equal(new RangeEpoch { ConfVer = 3, Version = 7 }, plan.Steps[0].Epoch);
        Assert.Equal("split range 1 at key 0x66", plan.Steps[0].Description);
    }

    [Fact]
    public void An_epoch_fence_that_matches_is_accepted()
    {
        var view = View(Stores("", "", ""), [Range(1, [1, 2, 3], start: "a", end: "m", confVer: 3, version: 7)]);
        var spec = Split(1, "f");
        spec.Epoch = new RangeEpoch { ConfVer = 3, Version = 7 };

        Assert.Single(Planned(spec, view).Steps);
    }

    [Fact]
    public void A_transfer_to_the_current_leader_is_an_empty_plan()
    {
        var plan = Planned(TransferLeader(1, 1), View(Stores("", "", ""), [Range(1, [1, 2, 3])]));

        Assert.Empty(plan.Steps);
        Assert.Equal(["store 1 already leads range 1: nothing to do"], plan.Notes);
        Assert.Equal(["Lead r1 s2"], Show(Planned(TransferLeader(1, 2), View(Stores("", "", ""), [Range(1, [1, 2, 3])]))));
    }

    [Fact]
    public void A_range_mid_change_is_planned_with_a_note()
    {
        var plan = Planned(Move(1, 1), View(Stores("", "", "", ""), [Range(1, [1, 2, 3], changeInFlight: true)]));

        Assert.Single(plan.Steps);
        Assert.Contains(plan.Notes, n => n.Contains("range 1 is mid-change", StringComparison.Ordinal));
    }

    [Fact]
    public void Adding_a_voter_to_a_two_voter_range_is_planned_on_a_free_domain()
    {
        var view = View(Stores("zone=a", "zone=b", "zone=c", "zone=a"), [Range(1, [1, 2])]);

        Assert.Equal(["Add r1 s3"], Show(Planned(Add(1, 3), view)));
        var refused = Planner.Plan(Add(1, 4), view);
        Assert.Equal(RefusalCode.NotEligible, refused.Refusal?.Code);
        Assert.Equal("store 4 cannot take a replica of range 1: store 4 would share zone a with store 1's voter: pick another store, or 0 to let the planner choose", refused.Refusal!.Message);
    }

    // ---- Refusals: each names what was wrong and what to do, and yields no plan. ----

    private static readonly Dictionary<string, (Func<ClusterView> View, OperationSpec Spec, string? Reason, RefusalCode Code, string Says)> Refusals = new()
    {
        ["unknown range"] = (() => Zones(), Move(99, 1), null, RefusalCode.NotFound, "range 99 is unknown: list ranges with kvctl range list"),
        ["unknown store"] = (() => Zones(), Add(1, 99), null, RefusalCode.NotFound, "store 99 is unknown: list stores with kvctl store list"),
        ["unknown move target"] = (() => Zones(), Move(1, 1, 99), null, RefusalCode.NotFound, "store 99 is unknown"),
        ["unknown drain store"] = (() => Zones(), Drain(99), null, RefusalCode.NotFound, "store 99 is unknown"),
        ["no kind"] = (() => Zones(), new OperationSpec { RangeId = 1 }, null, RefusalCode.InvalidArgument, "cannot be planned: use Split"),
        ["split key outside"] = (() => View(Stores("", "", ""), [Range(1, [1, 2, 3], start: "a", end: "m")]), Split(1, "z"), null, RefusalCode.InvalidArgument, "is not strictly inside range 1 [0x61, 0x6D): pick a key after its start key"),
        ["split key at the start"] = (() => View(Stores("", "", ""), [Range(1, [1, 2, 3], start: "a", end: "m")]), Split(1, "a"), null, RefusalCode.InvalidArgument, "is not strictly inside range 1"),
        ["split key empty"] = (() => Zones(), Split(1, ""), null, RefusalCode.InvalidArgument, "the split key is empty"),
        ["stale epoch"] = (() => Zones(), WithEpoch(Move(1, 1), 3, 2), null, RefusalCode.EpochChanged, "range 1 is at epoch (conf_ver 4, version 2), not (conf_ver 3, version 2) as the request saw: it changed since; re-read it"),
        ["target down"] = (() => Zones(Store(4, "zone=a,host=h4", up: false)), Move(1, 1, 4), null, RefusalCode.NotEligible, "store 4 cannot take a replica of range 1: store 4 is down: pick another store"),
        ["target draining"] = (() => Zones(Store(4, "zone=a,host=h4", admin: StoreAdminState.Draining)), Move(1, 1, 4), null, RefusalCode.NotEligible, "store 4 is draining"),
        ["target in maintenance"] = (() => Zones(Store(4, "zone=a,host=h4", maintenance: true)), Move(1, 1, 4), null, RefusalCode.NotEligible, "store 4 is in maintenance"),
        ["target shares a zone"] = (() => Zones(), Move(1, 1, 5), null, RefusalCode.NotEligible, "store 5 would share zone b with store 2's voter"),
        ["target holds a replica"] = (() => Zones(), Move(1, 1, 2), null, RefusalCode.NotEligible, "store 2 already holds a replica of range 1"),
        ["move to itself"] = (() => Zones(), Move(1, 1, 1), null, RefusalCode.InvalidArgument, "from and to are both store 1"),
        ["move a learner"] = (() => View(Stores("", "", "", ""), [Range(1, [1, 2, 3], learners: [4])]), Move(1, 4), null, RefusalCode.InvalidArgument, "store 4 holds a learner of range 1, not a voter"),
        ["move from a store without a replica"] = (() => Zones(), Move(1, 4), null, RefusalCode.InvalidArgument, "store 4 holds no replica of range 1: nothing to move"),
        ["no target at all"] = (() => View(Stores("", "", ""), [Range(1, [1, 2, 3])]), Move(1, 1), null, RefusalCode.NotEligible, "no eligible store for range 1: store 2 already holds a replica of range 1; store 3 already holds"),
        ["labels make placement impossible"] = (() => View(Stores("zone=a,host=h1", "zone=b,host=h2", "zone=a,host=h1"), [Range(1, [1, 2])]), Add(1, 3), null, RefusalCode.PlacementImpossible, "labels make placement impossible"),
        ["add where a replica is"] = (() => Zones(), Add(1, 2), null, RefusalCode.InvalidArgument, "store 2 already holds a voter of range 1"),
        ["remove the only voter"] = (() => View(Stores("", ""), [Range(1, [1])]), Remove(1, 1), null, RefusalCode.InvalidArgument, "holds the only voter of range 1"),
        ["remove from a store without a replica"] = (() => Zones(), Remove(1, 5), null, RefusalCode.InvalidArgument, "store 5 holds no replica of range 1"),
        ["lead from a learner"] = (() => View(Stores("", "", "", ""), [Range(1, [1, 2, 3], learners: [4])]), TransferLeader(1, 4), null, RefusalCode.InvalidArgument, "store 4 holds no voter of range 1, so it cannot lead it"),
        ["lead on a down store"] = (() => View(Stores("", "", "").Append(Store(4, up: false)), [Range(1, [1, 2, 4])]), TransferLeader(1, 4), null, RefusalCode.NotEligible, "store 4 is down: it cannot take range 1's leadership"),
        ["drain the last store"] = (() => View([Store(1), Store(2, admin: StoreAdminState.Removed)], [Range(1, [1])]), Drain(1), null, RefusalCode.PlacementImpossible, "store 1 is the last store that can hold replicas: add a store"),
        ["drain that could never finish"] = (() => View(Stores("", "", "").Append(Store(4, up: false)), [Range(1, [1, 2, 3]), Range(2, [1, 2, 3])]), Drain(1), null, RefusalCode.PlacementImpossible, "the drain of store 1 could never finish: no store is eligible for any of its 2 range(s) with a voter (range 1: no eligible store: store 2 already holds a replica of range 1; store 3 already holds a replica of range 1; store 4 is down)"),
        ["drain a removed store"] = (() => View(Stores("", "", "").Append(Store(4, admin: StoreAdminState.Removed)), [Range(1, [1, 2, 3])]), Drain(4), null, RefusalCode.InvalidArgument, "store 4 is removed"),
        ["replace an up store"] = (() => Zones(), Replace(1), null, RefusalCode.InvalidArgument, "store 1 is up: replacing is for a down store; drain it instead (kvctl store drain 1)"),
        ["force without reason"] = (() => Zones(), Move(1, 1, force: true), null, RefusalCode.ForceWithoutReason, "--force needs --reason"),
        ["force with a blank reason"] = (() => Zones(), Remove(1, 1, force: true), "  ", RefusalCode.ForceWithoutReason, "--force needs --reason"),
    };

    public static TheoryData<string> RefusalNames => [.. Refusals.Keys];

    [Theory]
    [MemberData(nameof(RefusalNames))]
    public void Bad_input_is_refused_with_what_was_wrong_and_what_to_do(string name)
    {
        var (view, spec, reason, code, says) = Refusals[name];

        var outcome = Planner.Plan(spec, view(), reason);

        Assert.True(outcome.Refusal is not null, $"{name}: planned {string.Join(", ", outcome.Plan is null ? [] : Show(outcome.Plan))}");
        Assert.True(code == outcome.Refusal.Code, $"{name}: {outcome.Refusal.Code}: {outcome.Refusal.Message}");
        Assert.Contains(says, outcome.Refusal.Message, StringComparison.Ordinal);
        Assert.Null(outcome.Plan);
        Assert.Empty(outcome.Stuck);
    }

    private static OperationSpec WithEpoch(OperationSpec spec, ulong confVer, ulong version)
    {
        spec.Epoch = new RangeEpoch { ConfVer = confVer, Version = version };
        return spec;
    }
}
