using Kv.Client;
using Kv.Node.Placement;
using Kv.Node.Placement.Gc;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Operations.OperationsTestData;
using static Kv.Node.Tests.Placement.PlacementTestData;

namespace Kv.Node.Tests.Placement.Gc;

/// <summary>The GC safe point and service safe points in placement's replicated state (shared/DESIGN.md section 6).</summary>
public class GcRulesTests
{
    private static readonly Timestamp Now = Timestamp.Compose(T0, 0);

    private static Timestamp Ms(long ms) => Timestamp.Compose(ms, 0);

    private static PlacementCommand SetSafePoint(Timestamp safePoint, Timestamp? now = null, long atMs = T0, string who = "alice", string reason = "") =>
        new() { SetGcSafePoint = new SetGcSafePointCommand { SafePoint = safePoint.Value, NowTs = (now ?? Now).Value, Who = who, Reason = reason, AtMs = atMs } };

    private static PlacementCommand SetService(string name, Timestamp ts, long ttlMs = 60_000, string who = "backup-svc", long atMs = T0) =>
        new() { SetServiceSafePoint = new SetServiceSafePointCommand { Name = name, Ts = ts.Value, TtlMs = ttlMs, Who = who, AtMs = atMs } };

    private static PlacementCommand RemoveService(string name, string who = "backup-svc", bool force = false, string reason = "", long atMs = T0) =>
        new() { RemoveServiceSafePoint = new RemoveServiceSafePointCommand { Name = name, Who = who, Force = force, Reason = reason, AtMs = atMs } };

    [Fact]
    public void The_safe_point_moves_up_and_is_audited_with_who_and_reason()
    {
        var state = SmallCluster();
        Applied(state, SetSafePoint(Ms(T0 - 60_000), reason: "nightly"));
        Assert.Equal(Ms(T0 - 60_000), state.Snapshot.Gc.SafePoint);
        var audit = state.Snapshot.AuditLog[^1];
        Assert.Equal("alice", audit.Who);
        Assert.Equal("nightly", audit.Reason);
        Assert.Contains("GC safe point", audit.What, StringComparison.Ordinal);
    }

    [Fact]
    public void The_safe_point_never_moves_back_and_a_lower_value_is_refused_with_a_reason()
    {
        var state = SmallCluster();
        Applied(state, SetSafePoint(Ms(T0 - 1000)));
        var refused = Refused(state, SetSafePoint(Ms(T0 - 2000)), PlacementErrorCode.PlacementErrorFailedPrecondition, "never moves back");
        Assert.Contains(Ms(T0 - 1000).ToString(), refused.Message, StringComparison.Ordinal);

        // Control: the same value is a no-op, not a refusal; a higher one applies.
        Kept(state, SetSafePoint(Ms(T0 - 1000)));
        Applied(state, SetSafePoint(Ms(T0 - 500)));
    }

    [Fact]
    public void A_safe_point_above_the_TSO_now_is_refused()
    {
        var state = SmallCluster();
        Refused(state, SetSafePoint(new Timestamp(Now.Value + 1)), PlacementErrorCode.PlacementErrorInvalidArgument, "above the TSO's now");
        Refused(state, SetSafePoint(Ms(T0 - 1), now: Timestamp.Zero), PlacementErrorCode.PlacementErrorInvalidArgument, "now_ts is 0");

        // Control: exactly now is allowed.
        Applied(state, SetSafePoint(Now));
    }

    [Fact]
    public void A_live_service_safe_point_bounds_the_safe_point_and_an_expired_one_stops_pinning()
    {
        var state = SmallCluster();
        Applied(state, SetService("backup-1", Ms(T0 - 5000), ttlMs: 60_000, atMs: T0));
        Refused(state, SetSafePoint(Ms(T0 - 4000), atMs: T0 + 59_999), PlacementErrorCode.PlacementErrorFailedPrecondition, "backup-1");

        // At its ts is fine; once it expired (last renewal + TTL), it no longer pins.
        Applied(state, SetSafePoint(Ms(T0 - 5000), atMs: T0 + 1));
        Applied(state, SetSafePoint(Ms(T0 - 4000), now: Ms(T0 + 60_000), atMs: T0 + 60_000));
    }

    [Fact]
    public void A_renewal_extends_the_TTL_from_the_renewal()
    {
        var state = SmallCluster();
        Applied(state, SetService("backup-1", Ms(T0 - 5000), ttlMs: 60_000, atMs: T0));
        Applied(state, SetService("backup-1", Ms(T0 - 5000), ttlMs: 60_000, atMs: T0 + 50_000));
        var service = state.Snapshot.Gc.Services["backup-1"];
        Assert.Equal(T0, service.CreatedMs);
        Assert.Equal(T0 + 50_000, service.LastRenewalMs);
        Refused(state, SetSafePoint(Ms(T0 - 4000), now: Ms(T0 + 100_000), atMs: T0 + 100_000), PlacementErrorCode.PlacementErrorFailedPrecondition, "backup-1");
    }

    [Theory]
    [InlineData("", 60_000, "name is empty")]
    [InlineData("has space", 60_000, "character ' '")]
    [InlineData("backup-1", 0, "TTL 0 ms")]
    [InlineData("backup-1", -5, "TTL -5 ms")]
    [InlineData("backup-1", GcRules.MaxServiceTtlMs + 1, "is outside")]
    public void Bad_service_safe_points_are_refused_with_a_reason(string name, long ttlMs, string mentions)
    {
        var state = SmallCluster();
        Refused(state, SetService(name, Ms(T0 - 1000), ttlMs), PlacementErrorCode.PlacementErrorInvalidArgument, mentions);
    }

    [Fact]
    public void A_service_safe_point_below_the_GC_safe_point_is_refused()
    {
        var state = SmallCluster();
        Applied(state, SetSafePoint(Ms(T0 - 1000)));
        Refused(state, SetService("backup-1", Ms(T0 - 2000)), PlacementErrorCode.PlacementErrorFailedPrecondition, "below the GC safe point");
        Applied(state, SetService("backup-1", Ms(T0 - 1000)));
    }

    [Fact]
    public void Another_owners_live_service_safe_point_is_not_taken_over()
    {
        var state = SmallCluster();
        Applied(state, SetService("backup-1", Ms(T0 - 1000), who: "bob"));
        Refused(state, SetService("backup-1", Ms(T0 - 500), who: "carol"), PlacementErrorCode.PlacementErrorConflict, "held by bob");
    }

    [Fact]
    public void Removing_another_owners_service_safe_point_needs_force_and_a_reason_and_is_audited()
    {
        var state = SmallCluster();
        Applied(state, SetService("backup-1", Ms(T0 - 1000), who: "bob"));
        Refused(state, RemoveService("backup-1", who: "carol"), PlacementErrorCode.PlacementErrorFailedPrecondition, "belongs to bob");
        Refused(state, RemoveService("backup-1", who: "carol", force: true), PlacementErrorCode.PlacementErrorInvalidArgument, "needs a reason");
        Refused(state, RemoveService("missing", who: "carol", force: true, reason: "x"), PlacementErrorCode.PlacementErrorNotFound, "does not exist");

        Applied(state, RemoveService("backup-1", who: "carol", force: true, reason: "backup host decommissioned"));
        Assert.Empty(state.Snapshot.Gc.Services);
        var audit = state.Snapshot.AuditLog[^1];
        Assert.Equal(AuditAction.Override, audit.Action);
        Assert.Equal("carol", audit.Who);
        Assert.Equal("backup host decommissioned", audit.Reason);
        Assert.Contains("bob", audit.What, StringComparison.Ordinal);
    }

    [Fact]
    public void The_owner_removes_its_own_without_force()
    {
        var state = SmallCluster();
        Applied(state, SetService("backup-1", Ms(T0 - 1000), who: "bob"));
        Applied(state, RemoveService("backup-1", who: "bob"));
        Assert.Empty(state.Snapshot.Gc.Services);
    }

    [Fact]
    public void GC_state_survives_a_reload_from_its_records()
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        Applied(state, SetService("backup-1", Ms(T0 - 3000), who: "bob"), records);
        Applied(state, SetService("cdc.feed_2", Ms(T0 - 2000), who: "carol"), records);
        Applied(state, SetSafePoint(Ms(T0 - 3000), reason: "r"), records);
        Applied(state, RemoveService("cdc.feed_2", who: "carol"), records);
        var loaded = PlacementState.Load(AsRecords(records));
        Assert.Equal(DescribeAll(state.Snapshot), DescribeAll(loaded.Snapshot));
        Assert.Equal(Ms(T0 - 3000), loaded.Snapshot.Gc.SafePoint);
        Assert.Equal(["backup-1"], loaded.Snapshot.Gc.Services.Keys);
    }

    [Fact]
    public void Before_bootstrap_every_GC_command_is_refused()
    {
        var state = PlacementState.Empty;
        Refused(state, SetSafePoint(Ms(T0 - 1)), PlacementErrorCode.PlacementErrorNotBootstrapped);
        Refused(state, SetService("a", Ms(T0 - 1)), PlacementErrorCode.PlacementErrorNotBootstrapped);
        Refused(state, RemoveService("a"), PlacementErrorCode.PlacementErrorNotBootstrapped);
    }
}
