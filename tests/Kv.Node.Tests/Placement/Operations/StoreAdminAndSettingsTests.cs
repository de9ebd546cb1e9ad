using Kv.Node.Placement;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Operations.OperationsTestData;
using static Kv.Node.Tests.Placement.PlacementTestData;

namespace Kv.Node.Tests.Placement.Operations;

/// <summary>Store admin states (Active, Draining, Drained, Removed), maintenance windows and cluster settings in placement's state.</summary>
public class StoreAdminAndSettingsTests
{
    private const StoreAdminState A = StoreAdminState.Active;
    private const StoreAdminState Dg = StoreAdminState.Draining;
    private const StoreAdminState Dd = StoreAdminState.Drained;
    private const StoreAdminState R = StoreAdminState.Removed;

    /// <summary>Store 4 (it holds no replica) brought to <paramref name="state"/> through allowed transitions.</summary>
    private static PlacementState StoreFourIn(StoreAdminState state)
    {
        var cluster = SmallCluster();
        StoreAdminState[] path = state switch
        {
            A => [],
            Dg => [Dg],
            Dd => [Dg, Dd],
            _ => [Dg, Dd, R],
        };
        foreach (var next in path)
        {
            Applied(cluster, Admin(4, next));
        }

        Assert.Equal(state, cluster.Snapshot.StoreAdminState(4));
        return cluster;
    }

    public static TheoryData<StoreAdminState, StoreAdminState, bool> Transitions()
    {
        var data = new TheoryData<StoreAdminState, StoreAdminState, bool>();
        var allowed = new HashSet<(StoreAdminState, StoreAdminState)> { (A, Dg), (Dg, A), (Dg, Dd), (Dd, R) };
        foreach (var from in new[] { A, Dg, Dd, R })
        {
            foreach (var to in new[] { A, Dg, Dd, R })
            {
                if (from != to)
                {
                    data.Add(from, to, allowed.Contains((from, to)));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Transitions))]
    public void Every_store_transition_is_allowed_or_refused_as_the_design_says(StoreAdminState from, StoreAdminState to, bool allowed)
    {
        var state = StoreFourIn(from);
        int audited = state.Snapshot.AuditLog.Count;
        if (allowed)
        {
            Applied(state, Admin(4, to, who: "frank"));
            Assert.Equal(to, state.Snapshot.StoreAdminState(4));
            var entry = state.Snapshot.AuditLog[^1];
            Assert.Equal(audited + 1, state.Snapshot.AuditLog.Count);
            Assert.Equal(AuditAction.Setting, entry.Action);
            Assert.Equal("frank", entry.Who);
            Assert.Contains($"{from} -> {to}", entry.What, StringComparison.Ordinal);
        }
        else
        {
            var refused = Refused(state, Admin(4, to), PlacementErrorCode.PlacementErrorFailedPrecondition, $"stays {from}");
            Assert.Matches("drain|remove|empty data directory|wait", refused.Message);
        }
    }

    [Theory]
    [InlineData(StoreAdminState.Active)]
    [InlineData(StoreAdminState.Draining)]
    [InlineData(StoreAdminState.Drained)]
    [InlineData(StoreAdminState.Removed)]
    public void Setting_the_state_a_store_is_in_is_a_no_op(StoreAdminState state) =>
        Kept(StoreFourIn(state), Admin(4, state));

    [Fact]
    public void A_store_becomes_drained_or_removed_only_once_it_holds_no_replica()
    {
        var state = SmallCluster();
        Applied(state, Admin(3, Dg));
        var refused = Refused(state, Admin(3, Dd), PlacementErrorCode.PlacementErrorFailedPrecondition, "ranges 1, 2");
        Assert.Contains("still holds replicas", refused.Message, StringComparison.Ordinal);
        // Control: once the directory shows both ranges off store 3, it may become Drained.
        Applied(state, PutRange(Range(1, "", "m", 2, 3, 1, 2, 4)));
        Applied(state, PutRange(Range(2, "m", "", 2, 3, 1, 2, 5)));
        Applied(state, Admin(3, Dd));
        Applied(state, Admin(3, R));
    }

    [Fact]
    public void Draining_is_refused_when_too_few_active_stores_would_remain_for_the_replication_factor()
    {
        var state = SmallCluster();
        Applied(state, Admin(4, Dg));
        Applied(state, Admin(5, Dg));
        // Stores 1, 2, 3 active, replication factor 3: draining one leaves 2.
        Refused(state, Admin(3, Dg), PlacementErrorCode.PlacementErrorFailedPrecondition, "replication factor of 3");
        // Control: with one more active store it is allowed.
        Applied(state, Admin(5, A));
        Applied(state, Admin(3, Dg));
    }

    [Fact]
    public void Unknown_stores_and_missing_identity_are_refused()
    {
        var state = SmallCluster();
        Refused(state, Admin(9, Dg), PlacementErrorCode.PlacementErrorNotFound, "store 9");
        Refused(state, Admin(4, Dg, who: ""), PlacementErrorCode.PlacementErrorInvalidArgument, "who");
        Refused(state, Admin(4, (StoreAdminState)42), PlacementErrorCode.PlacementErrorInvalidArgument, "unknown");
        Refused(state, Maintenance(9, T0 + 1000), PlacementErrorCode.PlacementErrorNotFound, "store 9");
        Refused(PlacementState.Empty, Admin(4, Dg), PlacementErrorCode.PlacementErrorNotBootstrapped);
    }

    [Fact]
    public void A_removed_store_is_refused_when_it_registers_or_heartbeats_again()
    {
        var state = StoreFourIn(Dd);
        // Control: before removal its PutStore applies (a new address).
        Applied(state, PutStore(4, "10.0.0.44:7000", "uuid-4"));
        Applied(state, Admin(4, R));
        var refused = Refused(state, PutStore(4, "10.0.0.44:7000", "uuid-4"), PlacementErrorCode.PlacementErrorStoreRemoved, "empty data directory");
        Assert.Contains("store 4 was removed", refused.Message, StringComparison.Ordinal);
        // Another data directory claiming the id is refused the same way (ids are never reused).
        Refused(state, PutStore(4, "10.0.0.45:7000", "uuid-new"), PlacementErrorCode.PlacementErrorStoreRemoved);
        // A removed store takes no new replicas and no operation targets it.
        Refused(state, Submit("to-4", Move(to: 4)), PlacementErrorCode.PlacementErrorFailedPrecondition, "removed");
    }

    [Fact]
    public void A_maintenance_window_expires_by_itself()
    {
        var state = SmallCluster();
        const long hour = 3_600_000;
        Applied(state, Maintenance(4, T0 + hour));
        var s = state.Snapshot;
        Assert.True(s.InMaintenance(4, T0));
        Assert.True(s.InMaintenance(4, T0 + hour - 1));
        Assert.False(s.InMaintenance(4, T0 + hour));
        Assert.False(s.InMaintenance(5, T0));
        Assert.Equal(AuditAction.Setting, s.AuditLog[^1].Action);
        Assert.Contains("maintenance until", s.AuditLog[^1].What, StringComparison.Ordinal);

        // Ended early, then ending again (or ending an expired window) is a no-op.
        Applied(state, Maintenance(4, 0, atMs: T0 + 10));
        Assert.False(state.Snapshot.InMaintenance(4, T0 + 11));
        Kept(state, Maintenance(4, 0, atMs: T0 + 20));
        Applied(state, Maintenance(5, T0 + hour));
        Kept(state, Maintenance(5, 0, atMs: T0 + hour + 1));
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(0L)]
    [InlineData(7L * 24 * 3_600_000 + 1)]
    public void A_maintenance_window_in_the_past_or_longer_than_seven_days_is_refused(long fromNow)
    {
        var state = SmallCluster();
        Refused(state, Maintenance(4, T0 + fromNow), PlacementErrorCode.PlacementErrorInvalidArgument, "7 days");
        // Control: the longest allowed window applies.
        Applied(state, Maintenance(4, T0 + (7L * 24 * 3_600_000)));
    }

    [Fact]
    public void A_removed_store_gets_no_maintenance_window()
    {
        var state = StoreFourIn(R);
        Refused(state, Maintenance(4, T0 + 1000), PlacementErrorCode.PlacementErrorFailedPrecondition, "removed");
    }

    [Fact]
    public void The_replication_factor_defaults_to_three_and_is_set_within_one_to_seven_and_the_active_store_count()
    {
        var state = SmallCluster();
        Assert.Equal(3U, state.Snapshot.ReplicationFactor);
        Refused(state, Settings(replicationFactor: 0), PlacementErrorCode.PlacementErrorInvalidArgument, "1..7");
        Refused(state, Settings(replicationFactor: 8), PlacementErrorCode.PlacementErrorInvalidArgument, "1..7");
        Refused(state, Settings(replicationFactor: 6), PlacementErrorCode.PlacementErrorFailedPrecondition, "5");
        Refused(state, Settings(), PlacementErrorCode.PlacementErrorInvalidArgument, "nothing to set");
        Applied(state, Settings(replicationFactor: 5));
        Assert.Equal(5U, state.Snapshot.ReplicationFactor);
        Applied(state, Settings(replicationFactor: 1));
        Assert.Equal(1U, state.Snapshot.ReplicationFactor);
        var entry = state.Snapshot.AuditLog[^1];
        Assert.Equal("replication factor 5 -> 1", entry.What);
        Assert.Equal("erin", entry.Who);
        Kept(state, Settings(replicationFactor: 1));
    }

    [Fact]
    public void The_scheduler_is_paused_and_resumed_each_change_audited_and_a_repeat_is_a_no_op()
    {
        var state = SmallCluster();
        Assert.False(state.Snapshot.SchedulerPaused);
        Applied(state, Settings(paused: true));
        Assert.True(state.Snapshot.SchedulerPaused);
        Kept(state, Settings(paused: true));
        Applied(state, Settings(paused: false, replicationFactor: 3));
        Assert.False(state.Snapshot.SchedulerPaused);
        Assert.Equal(["scheduler paused", "scheduler resumed"], state.Snapshot.AuditLog.Select(a => a.What));
    }
}
