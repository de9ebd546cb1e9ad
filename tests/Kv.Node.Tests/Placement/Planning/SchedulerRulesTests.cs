using Kv.Node.Placement.Operations.Planning;
using Kv.Node.Placement.Scheduler;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Planning.PlanningTestData;

namespace Kv.Node.Tests.Placement.Planning;

/// <summary>SchedulerRules.Decide (rules at the top of SchedulerRules.cs); every rule has a control that flips its outcome.</summary>
public sealed class SchedulerRulesTests
{
    private const long Now = 10_000_000_000;
    private const long Minute = 60_000;

    private static string[] Decide(ClusterView view, SchedulerSettings? settings = null, params OperationRecord[] active) =>
        [.. SchedulerRules.Decide(view, Now, settings ?? SchedulerSettings.Default, active).Select(Show)];

    private static string Show(SchedulerDecision d) => d.Spec.Kind switch
    {
        OperationKind.ReplaceStore => $"Replace s{d.Spec.StoreId}",
        OperationKind.DrainStore => $"Drain s{d.Spec.StoreId}",
        OperationKind.AddReplica => $"Add r{d.Spec.RangeId} s{d.Spec.StoreId}",
        OperationKind.RemoveReplica => $"Remove r{d.Spec.RangeId} s{d.Spec.StoreId}",
        OperationKind.MoveReplica => $"Move r{d.Spec.RangeId} {d.Spec.FromStoreId}->{d.Spec.ToStoreId}",
        OperationKind.TransferLeader => $"Lead r{d.Spec.RangeId} s{d.Spec.StoreId}",
        _ => d.Spec.Kind.ToString(),
    };

    // Store 4 is down since downMinutes ago; ranges 1 and 2 have a voter on it.
    private static ClusterView DeadStore(long downMinutes, bool maintenance = false) =>
        View(
            Stores("", "", "", "", "").Select(s => s.Id.Value == 4 ? s with { Liveness = Liveness.Down, DownSinceMs = Now - downMinutes * Minute, InMaintenance = maintenance } : s),
            [Range(1, [1, 2, 4]), Range(2, [4, 3, 5], leader: 3), Range(3, [1, 2, 3])]);

    private static OperationRecord Active(OperationSpec spec, params PlanStep[] steps)
    {
        var record = new OperationRecord { Id = "op", Spec = spec, State = OperationState.Running, Plan = new Plan() };
        record.Plan.Steps.Add(steps);
        return record;
    }

    public static TheoryData<string, long, bool, string[]> Replacement => new()
    {
        // name, minutes down, in maintenance, decisions
        { "down longer than the delay", 31, false, ["Replace s4"] },
        { "down exactly the delay", 30, false, ["Replace s4"] },
        { "down shorter than the delay", 29, false, [] },
        { "down long but in maintenance", 120, true, [] },
    };

    [Theory]
    [MemberData(nameof(Replacement))]
    public void A_store_down_longer_than_the_delay_and_not_in_maintenance_is_replaced(string name, long minutes, bool maintenance, string[] expected)
    {
        var decided = SchedulerRules.Decide(DeadStore(minutes, maintenance), Now, SchedulerSettings.Default, []);

        Assert.True(expected.SequenceEqual(decided.Select(Show)), $"{name}: {string.Join(", ", decided.Select(Show))}");
        if (expected.Length > 0)
        {
            Assert.Equal($"store 4 has been down for {minutes}m (store-down-replace-after is 30m): replacing its replicas", decided[0].Reason);
        }
    }

    [Fact]
    public void Nothing_while_paused()
    {
        Assert.Empty(Decide(DeadStore(60), SchedulerSettings.Default with { Paused = true }));
        Assert.Equal(["Replace s4"], Decide(DeadStore(60))); // control
    }

    [Fact]
    public void A_store_already_being_replaced_or_with_unknown_down_time_is_not_replaced_again()
    {
        Assert.Empty(Decide(DeadStore(60), null, Active(Replace(4))));
        var unknown = DeadStore(60);
        unknown = unknown with { Stores = unknown.Stores.SetItem(new(4), unknown.Stores[new(4)] with { DownSinceMs = 0 }) };
        Assert.Empty(Decide(unknown));
    }

    [Fact]
    public void A_draining_store_without_a_running_drain_is_drained_again()
    {
        var view = View(Stores("", "", "", "").Select(s => s.Id.Value == 1 ? s with { AdminState = StoreAdminState.Draining } : s), [Range(1, [1, 2, 3])]);

        var decided = SchedulerRules.Decide(view, Now, SchedulerSettings.Default, []);

        Assert.Equal(["Drain s1"], decided.Select(Show));
        Assert.Contains("no drain is running", decided[0].Reason, StringComparison.Ordinal);
        Assert.Empty(Decide(view, null, Active(Drain(1)))); // control: the drain is running
    }

    [Fact]
    public void An_under_replicated_range_gets_a_voter_in_a_free_failure_domain()
    {
        // Store 4 is emptier but shares zone a with store 1; store 3 (zone c) is the only right place.
        var view = View(
            [Store(1, "zone=a"), Store(2, "zone=b"), Store(3, "zone=c", replicas: 5), Store(4, "zone=a", replicas: 0)],
            [Range(1, [1, 2])]);

        var decided = SchedulerRules.Decide(view, Now, SchedulerSettings.Default, []);

        Assert.Equal(["Add r1 s3"], decided.Select(Show));
        Assert.Equal("range 1 has 2 voter(s), the replication factor is 3: adding one on store 3", decided[0].Reason);
        Assert.Equal(new RangeEpoch { ConfVer = 1, Version = 1 }, decided[0].Spec.Epoch);
    }

    public static TheoryData<string, ulong[], ulong[], ulong> Removals => new()
    {
        // name, voters (first leads), down stores, expected victim
        { "a voter on a down store first", [1, 2, 3, 4], [3], 3 },
        { "then a voter sharing a domain", [1, 2, 3, 5], [], 5 },
        { "then the store with most replicas, not the leader", [4, 1, 2, 3], [], 3 },
    };

    [Theory]
    [MemberData(nameof(Removals))]
    public void An_over_replicated_range_loses_the_worst_placed_voter(string name, ulong[] voters, ulong[] down, ulong victim)
    {
        // Zones a, b, c, d, a; store 4 holds the most replicas but leads in the last row; store 3 next.
        var stores = new[]
        {
            Store(1, "zone=a", replicas: 1), Store(2, "zone=b", replicas: 1), Store(3, "zone=c", replicas: 5),
            Store(4, "zone=d", replicas: 9), Store(5, "zone=a", replicas: 1),
        }.Select(s => down.Contains(s.Id.Value) ? s with { Liveness = Liveness.Down, DownSinceMs = Now - Minute } : s);
        var view = View(stores, [Range(1, voters)]);

        var decided = Decide(view);

        Assert.True(decided.SequenceEqual([$"Remove r1 s{victim}"]), $"{name}: {string.Join(", ", decided)}");
    }

    [Fact]
    public void A_range_an_operation_touches_gets_no_second_one()
    {
        var view = View(Stores("", "", "", ""), [Range(1, [1, 2]), Range(2, [1, 2])]);
        var step = new PlanStep { Kind = StepKind.MoveReplica, RangeId = 2, FromStoreId = 1, ToStoreId = 3, State = StepState.Pending };

        Assert.Equal(["Add r1 s3", "Add r2 s4"], Decide(view)); // control
        Assert.Equal(["Add r2 s3"], Decide(view, null, Active(Add(1, 4))));
        Assert.Equal(["Add r1 s3"], Decide(view, null, Active(Drain(1), step)));
        Assert.Empty(Decide(view with { Ranges = view.Ranges.SetItem(new(1), view.Ranges[new(1)] with { ChangeInFlight = true }) }, null, Active(Add(2, 4))));
    }

    [Fact]
    public void No_store_receives_more_than_the_snapshot_limit()
    {
        var view = View(Stores("", "", "", ""), [.. Enumerable.Range(1, 4).Select(i => Range((ulong)i, [1, 2]))]);
        // Store 3 already receives one snapshot for an unrelated range (9).
        var running = new PlanStep { Kind = StepKind.MoveReplica, RangeId = 9, FromStoreId = 1, ToStoreId = 3, State = StepState.Running };

        // Stores 3 and 4 are the only targets, two snapshots each at most: store 3 takes one more,
        // store 4 two, and the fourth range waits for a later round.
        // (Store 1 leads all four ranges, so range 4, left free, also gets a leader transfer: no snapshot.)
        Assert.Equal(["Add r1 s3", "Add r2 s4", "Add r3 s4", "Lead r4 s2"], Decide(view, null, Active(Drain(7), running)));
        // Control: with a limit of 3, all four ranges are served.
        Assert.Equal(["Add r1 s3", "Add r2 s4", "Add r3 s3", "Add r4 s4"], Decide(view, SchedulerSettings.Default with { MaxSnapshotsPerStore = 3 }, Active(Drain(7), running)));
    }

    public static TheoryData<string, int, int, string[]> ReplicaBalance => new()
    {
        // name, count on stores 1-3, count on store 4, decisions
        { "spread 8 moves one voter to the emptiest", 10, 2, ["Move r1 1->4"] },
        { "spread 3 beyond the tolerance 2", 5, 2, ["Move r1 1->4"] },
        { "spread 2 is within the tolerance", 4, 2, [] },
        { "5 % of a large mean: spread 30 within 35", 700, 670, [] },
        { "5 % of a large mean: spread 40 beyond 35", 700, 660, ["Move r1 1->4"] },
    };

    [Theory]
    [MemberData(nameof(ReplicaBalance))]
    public void Replica_counts_are_balanced_beyond_the_tolerance(string name, int full, int empty, string[] expected)
    {
        var stores = new[] { Store(1, replicas: full), Store(2, replicas: full), Store(3, replicas: full), Store(4, replicas: empty) };
        var view = View(stores, [Range(1, [1, 2, 3], leader: 0), Range(2, [2, 3, 4], leader: 0)]);

        var decided = Decide(view);

        Assert.True(expected.SequenceEqual(decided), $"{name}: {string.Join(", ", decided)}");
    }

    [Fact]
    public void Balancing_ignores_stores_that_are_down_draining_or_in_maintenance()
    {
        var view = View(
            [Store(1, replicas: 10), Store(2, replicas: 10), Store(3, replicas: 10), Store(4, replicas: 0, maintenance: true), Store(5, replicas: 0, admin: StoreAdminState.Drained)],
            [Range(1, [1, 2, 3], leader: 0)]);

        Assert.Empty(Decide(view));
        // Control: store 4 out of maintenance is balanced onto.
        Assert.Equal(["Move r1 1->4"], Decide(view with { Stores = view.Stores.SetItem(new(4), view.Stores[new(4)] with { InMaintenance = false }) }));
    }

    [Fact]
    public void Leader_counts_are_balanced_beyond_the_tolerance()
    {
        var ranges = new[] { Range(1, [1, 2, 3]), Range(2, [1, 2, 3]) };
        var view = View([Store(1, replicas: 2, leaders: 8), Store(2, replicas: 2, leaders: 1), Store(3, replicas: 2, leaders: 3)], ranges);

        var decided = SchedulerRules.Decide(view, Now, SchedulerSettings.Default, []);

        Assert.Equal(["Lead r1 s2"], decided.Select(Show));
        Assert.Equal("leader counts spread 7 (store 1: 8, store 2: 1) beyond the tolerance 2: moving range 1's leadership", decided[0].Reason);
        // Control: a spread of 2 is within the tolerance.
        Assert.Empty(Decide(View([Store(1, replicas: 2, leaders: 3), Store(2, replicas: 2, leaders: 1), Store(3, replicas: 2, leaders: 2)], ranges)));
    }

    [Fact]
    public void The_same_inputs_give_the_same_decisions()
    {
        var view = DeadStore(60);

        Assert.Equal(Decide(view), Decide(view));
    }
}
