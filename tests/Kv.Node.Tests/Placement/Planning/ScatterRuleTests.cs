using Kv.Client;
using Kv.Node.Placement.Operations.Planning;
using Kv.Node.Placement.Scheduler;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Planning.PlanningTestData;

namespace Kv.Node.Tests.Placement.Planning;

/// <summary>
/// The scheduler's scatter rule (issue 13, gap 1): the right half of an automatic split leaves
/// the left half's leader and, when counts allow, one of its stores. Every case has a control
/// that flips it: each rule the scheduler respects (paused, one operation per range, a change in
/// flight, maintenance, failure domains, the snapshot budget, the tolerance, operator splits).
/// </summary>
public sealed class ScatterRuleTests
{
    private const long Now = 10_000_000_000;
    private const long Minute = 60_000;

    private static string Show(SchedulerDecision d) => d.Spec.Kind switch
    {
        OperationKind.MoveReplica => $"Move r{d.Spec.RangeId} {d.Spec.FromStoreId}->{d.Spec.ToStoreId}",
        OperationKind.TransferLeader => $"Lead r{d.Spec.RangeId} s{d.Spec.StoreId}",
        _ => $"{d.Spec.Kind} r{d.Spec.RangeId} s{d.Spec.StoreId}",
    };

    private static IReadOnlyList<SchedulerDecision> Decide(ClusterView view, SchedulerSettings? settings = null, params OperationRecord[] active) =>
        SchedulerRules.Decide(view, Now, settings ?? SchedulerSettings.Default, active);

    private static string[] Shown(ClusterView view, SchedulerSettings? settings = null, params OperationRecord[] active) =>
        [.. Decide(view, settings, active).Select(Show)];

    private static ClusterView WithSplit(ClusterView view, SplitReason reason = SplitReason.Load, long agoMinutes = 5) =>
        view with { Splits = [new SplitView(new RangeId(1), new RangeId(2), reason, Now - (agoMinutes * Minute))] };

    /// <summary>
    /// Range 1 was split into 1 (left) and 2 (right), both on stores 1, 2, 3; the right half is led
    /// from <paramref name="rightLeader"/>, the left from store 1. Stores 4, 5, 6 hold
    /// <paramref name="background"/> ranges on [4, 5, 6], led by 4, 5, 6 in turn. Counts stay
    /// within the balancing tolerance, so only the scatter rule can act.
    /// </summary>
    private static ClusterView Halves(ulong rightLeader, int background = 2, string[]? labels = null, Func<StoreView, StoreView>? store = null)
    {
        var ranges = new List<RangeView> { Range(1, [1, 2, 3], leader: 1, end: "m"), Range(2, [1, 2, 3], leader: rightLeader, start: "m") };
        for (int i = 0; i < background; i++)
        {
            ranges.Add(Range(10 + (ulong)i, [4, 5, 6], leader: 4 + (ulong)(i % 3)));
        }

        var stores = Stores(labels ?? ["", "", "", "", "", ""]).Select(store ?? (s => s));
        return View(stores, ranges);
    }

    private static OperationRecord Running(OperationSpec spec, params PlanStep[] steps)
    {
        var record = new OperationRecord { Id = "op", Spec = spec, State = OperationState.Running, Plan = new Plan() };
        record.Plan.Steps.Add(steps);
        return record;
    }

    [Fact]
    public void Halves_of_a_load_split_led_from_one_store_get_the_right_halfs_leadership_moved_and_say_why()
    {
        var decided = Decide(WithSplit(Halves(rightLeader: 1)));

        Assert.Equal(["Lead r2 s2"], decided.Select(Show));
        Assert.Equal(
            "scatter: range 2 is the right half of a load split of range 1 (5m ago) and both halves are led from store 1: moving range 2's leadership to store 2 (leaders: store 1 2, store 2 0; tolerance 2)",
            decided[0].Reason);
        Assert.Equal(1ul, decided[0].Spec.Epoch.ConfVer); // fenced on the epoch the rule saw
    }

    [Fact]
    public void An_operator_split_is_not_scattered()
    {
        // The same halves without a split record (operator splits are never recorded): nothing to do.
        Assert.Empty(Shown(Halves(rightLeader: 1)));
        Assert.Equal(["Lead r2 s2"], Shown(WithSplit(Halves(rightLeader: 1), SplitReason.Size))); // control: a size split is
        Assert.Empty(Shown(WithSplit(Halves(rightLeader: 1), SplitReason.Unspecified)));
    }

    [Fact]
    public void Halves_on_the_same_stores_but_led_apart_get_one_replica_of_the_right_half_moved_off_a_non_leader_store()
    {
        var decided = Decide(WithSplit(Halves(rightLeader: 2)));

        Assert.Equal(["Move r2 1->4"], decided.Select(Show));
        Assert.StartsWith("scatter: range 2 is the right half of a load split of range 1 (5m ago) and both halves are on the same stores: moving range 2's replica from store 1 to store 4", decided[0].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Halves_already_apart_are_left_alone()
    {
        var view = WithSplit(Halves(rightLeader: 2));
        view = view.WithRange(Range(2, [4, 2, 3], leader: 2, start: "m", confVer: 3));
        Assert.Empty(Shown(view));
    }

    public static TheoryData<string, bool, string[]> Constraints => new()
    {
        // name, broken (the constraint applies), decisions when it applies; each case's control is the same view with it lifted.
        { "paused", true, [] },
        { "an operation on the right half", true, [] },
        { "a change in flight on the right half", true, [] },
        { "split older than the scatter window", true, [] },
        { "every other store in maintenance", true, [] },
        { "every other store receives its budget of snapshots", true, [] },
        { "counts outside the tolerance after the move", true, [] },
        { "paused", false, ["Move r2 1->4"] },
        { "an operation on the right half", false, ["Move r2 1->4"] },
        { "a change in flight on the right half", false, ["Move r2 1->4"] },
        { "split older than the scatter window", false, ["Move r2 1->4"] },
        { "every other store in maintenance", false, ["Move r2 1->4"] },
        { "every other store receives its budget of snapshots", false, ["Move r2 1->4"] },
        { "counts outside the tolerance after the move", false, ["Move r2 1->4"] },
    };

    [Theory]
    [MemberData(nameof(Constraints))]
    public void The_scatter_move_respects_what_every_scheduler_rule_respects(string constraint, bool applies, string[] expected)
    {
        var view = WithSplit(Halves(rightLeader: 2));
        var settings = SchedulerSettings.Default;
        var active = new List<OperationRecord>();
        if (applies)
        {
            switch (constraint)
            {
                case "paused":
                    settings = settings with { Paused = true };
                    break;
                case "an operation on the right half":
                    active.Add(Running(TransferLeader(2, 3)));
                    break;
                case "a change in flight on the right half":
                    view = view.WithRange(view.Ranges[new RangeId(2)] with { ChangeInFlight = true });
                    break;
                case "split older than the scatter window":
                    view = WithSplit(Halves(rightLeader: 2), agoMinutes: 61);
                    break;
                case "every other store in maintenance":
                    view = WithSplit(Halves(rightLeader: 2, store: s => s.Id.Value >= 4 ? s with { InMaintenance = true } : s));
                    break;
                case "every other store receives its budget of snapshots":
                    foreach (ulong to in new ulong[] { 4, 5, 6 })
                    {
                        for (uint i = 0; i < settings.MaxSnapshotsPerStore; i++)
                        {
                            // Running adds into the store, on ranges of their own (so no range is busy but the budget).
                            active.Add(Running(Add(900 + to, to), new PlanStep { Kind = StepKind.AddReplica, RangeId = 900 + (to * 10) + i, StoreId = to, State = StepState.Running }));
                        }
                    }

                    break;
                case "counts outside the tolerance after the move":
                    // Stores 4, 5, 6 hold 3 replicas each, store 1 holds 2: moving one more to 4 makes the pair 4 vs 1, beyond 2.
                    view = WithSplit(Halves(rightLeader: 2, background: 3));
                    break;
                default:
                    throw new ArgumentException(constraint);
            }
        }

        var decided = Shown(view, settings, [.. active]);
        Assert.True(expected.SequenceEqual(decided), $"{constraint} ({(applies ? "applies" : "control")}): [{string.Join(", ", decided)}]");
    }

    [Fact]
    public void The_scatter_move_keeps_failure_domains_apart()
    {
        // Stores 1..3 in zones a, b, c; 4 and 5 share zones with the voters that stay (2 in b, 3 in c); 6 is in zone a.
        string[] labels = ["zone=a", "zone=b", "zone=c", "zone=b", "zone=c", "zone=a"];
        Assert.Equal(["Move r2 1->6"], Shown(WithSplit(Halves(rightLeader: 2, labels: labels))));

        // Control: with 6 in zone b too, no store keeps the zones apart: nothing moves.
        string[] crowded = ["zone=a", "zone=b", "zone=c", "zone=b", "zone=c", "zone=b"];
        Assert.Empty(Shown(WithSplit(Halves(rightLeader: 2, labels: crowded))));
    }

    [Fact]
    public void A_leader_transfer_only_goes_to_an_eligible_voter_and_never_on_a_guess()
    {
        // Stores 2 and 3 (the right half's other voters) in maintenance: no transfer.
        Assert.DoesNotContain("Lead r2 s2", Shown(WithSplit(Halves(rightLeader: 1, store: s => s.Id.Value is 2 or 3 ? s with { InMaintenance = true } : s))));
        Assert.DoesNotContain("Lead r2 s3", Shown(WithSplit(Halves(rightLeader: 1, store: s => s.Id.Value is 2 or 3 ? s with { InMaintenance = true } : s))));

        // The left half's leader not yet reported: no transfer (the rule never acts on a guess).
        var unknown = WithSplit(Halves(rightLeader: 1));
        unknown = unknown.WithRange(unknown.Ranges[new RangeId(1)] with { Leader = default });
        Assert.DoesNotContain(Shown(unknown), d => d.StartsWith("Lead r2", StringComparison.Ordinal));
    }

    [Fact]
    public void At_most_one_scatter_transfer_and_one_scatter_move_per_call()
    {
        // Two splits, both with halves led from one store and on the same stores: the newest gets
        // the one transfer of this call, the older the one move; the older's transfer waits.
        var ranges = new List<RangeView>
        {
            Range(1, [1, 2, 3], leader: 1, end: "f"), Range(2, [1, 2, 3], leader: 1, start: "f", end: "m"),
            Range(3, [1, 2, 3], leader: 1, start: "m", end: "t"), Range(4, [1, 2, 3], leader: 1, start: "t"),
            Range(10, [4, 5, 6], leader: 4), Range(11, [4, 5, 6], leader: 5), Range(12, [4, 5, 6], leader: 6),
            Range(13, [4, 5, 6], leader: 4),
        };
        var view = View(Stores("", "", "", "", "", ""), ranges) with
        {
            Splits =
            [
                new SplitView(new RangeId(1), new RangeId(2), SplitReason.Load, Now - (10 * Minute)),
                new SplitView(new RangeId(3), new RangeId(4), SplitReason.Load, Now - Minute),
            ],
        };
        var decided = Decide(view, SchedulerSettings.Default with { MinBalanceSpread = 10 });
        Assert.Equal(["Lead r4 s2", "Move r2 2->4"], decided.Where(d => d.Reason.StartsWith("scatter", StringComparison.Ordinal)).Select(Show));
    }
}
