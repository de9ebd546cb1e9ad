using Kv.Client.Views;
using Kv.Proto.V1;
using static Kv.Client.Tests.Views.ViewFixtures;

namespace Kv.Client.Tests.Views;

/// <summary>Every field of every view record comes from its proto field (fixtures set each to a distinct value).</summary>
public sealed class ViewMappingTests
{
    private static DateTimeOffset At(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    [Fact]
    public void An_operation_record_maps_every_field()
    {
        var v = OperationView.From(Operation());

        Assert.Equal("kv/v1", v.ApiVersion);
        Assert.Equal("Operation", v.Kind);
        Assert.Equal("op-20261205-190000-0a1b2c3d", v.Id.Value);
        Assert.Equal(new OperationSpecView(OperationKindView.MoveReplica, new RangeId(7), "m", new StoreId(3), new StoreId(4), new StoreId(2), new EpochView(5, 6), true), v.Spec);
        Assert.Equal(OperationStateView.Running, v.State);
        Assert.Equal(1u, v.CurrentStep);
        Assert.Equal(2, v.StepCount);
        Assert.Equal("not yet", v.Failure);
        Assert.Equal("alice", v.RequestedBy);
        Assert.Equal("hardware swap", v.Reason);
        Assert.Equal((At(T0), At(T0 + 500), At(T0 + 2500), At(T0 + 3000)), (v.Created!.Value, v.Started!.Value, v.Updated!.Value, v.Finished!.Value));
        Assert.Equal(new OperationProgressView(1, 3, 1_048_576, 3_145_728, TimeSpan.FromSeconds(90)), v.Progress);
        Assert.Equal(new StuckRangeView(new RangeId(11), "no eligible store", At(T0 + 1500)), Assert.Single(v.Stuck));
        Assert.True(v.CancelRequested);
        Assert.Equal("bob", v.CancelledBy);
        Assert.Equal(2u, v.Replans);
        Assert.Equal(12ul, v.Revision);
        Assert.False(v.IsFinished);

        var step = v.Plan.Steps[0];
        Assert.Equal(
            new PlanStepView(0, StepKindView.MoveReplica, new RangeId(7), new EpochView(5, 6), new StoreId(3), new StoreId(4), new StoreId(2), "0x00ff", 1_048_576,
                "move range 7's replica from store 4 to store 2 (zone b)", StepStateView.Done, new EpochView(8, 6), "leader moved", At(T0 + 1000), At(T0 + 2000), 2),
            step);
        var second = v.Plan.Steps[1];
        Assert.Equal((StepKindView.TransferLeader, StepStateView.Running), (second.Kind, second.State));
        Assert.Null(second.FromStoreId);
        Assert.Null(second.Epoch);
        Assert.Null(second.Started);
        Assert.False(v.Plan.Preflight.Safe);
        Assert.Equal(new PreflightRiskView(new RangeId(7), 0, 1, 0, 1, "store 5 is down"), Assert.Single(v.Plan.Preflight.Risks));
        Assert.Equal(["zone c has no room"], v.Plan.Notes);
    }

    [Fact]
    public void Zero_times_empty_strings_and_absent_messages_are_null_not_epoch_or_blank()
    {
        var v = OperationView.From(new OperationRecord { Id = "op-x", State = OperationState.Pending });

        Assert.Null(v.Created);
        Assert.Null(v.Failure);
        Assert.Null(v.Reason);
        Assert.Equal("unknown", v.RequestedBy);
        Assert.Null(v.Progress.Eta);
        Assert.Empty(v.Plan.Steps);
        Assert.True(v.Plan.Preflight.Safe);
        Assert.Equal(OperationKindView.Unknown, v.Spec.Kind);
        Assert.Null(v.Spec.RangeId);
    }

    [Theory]
    [InlineData(OperationState.Succeeded, true)]
    [InlineData(OperationState.Failed, true)]
    [InlineData(OperationState.Cancelled, true)]
    [InlineData(OperationState.Pending, false)]
    [InlineData(OperationState.Running, false)]
    public void Finished_means_succeeded_failed_or_cancelled(OperationState state, bool finished) =>
        Assert.Equal(finished, OperationView.From(new OperationRecord { Id = "op", State = state }).IsFinished);

    [Fact]
    public void A_store_status_maps_every_field()
    {
        var v = StoreView.From(Store());

        Assert.Equal(("kv/v1", "Store"), (v.ApiVersion, v.Kind));
        Assert.Equal(new StoreId(4), v.Id);
        Assert.Equal(("10.0.0.4:20160", "uuid-4", "1.2.3"), (v.Address, v.StoreUuid, v.Version));
        Assert.Equal(["host", "zone"], v.Labels.Keys);
        Assert.Equal("b", v.Labels["zone"]);
        Assert.Equal((StoreAdminStateView.Draining, StoreLivenessView.Down), (v.AdminState, v.Liveness));
        Assert.Equal((At(T0 + 1), At(T0 + 2), At(T0 + 3), At(T0 + 4)), (v.LastHeartbeat!.Value, v.DownSince!.Value, v.MaintenanceUntil!.Value, v.Updated!.Value));
        Assert.Equal((100ul, 60ul, 40ul, 5u, 2u), (v.CapacityBytes, v.AvailableBytes, v.UsedBytes, v.RangeCount, v.LeaderCount));
        Assert.Equal(("alice", "decommission", "op-drain-4"), (v.UpdatedBy, v.Reason, v.DrainOperationId));
    }

    [Fact]
    public void An_audit_entry_maps_every_field()
    {
        var v = AuditEntryView.From(Audit());

        Assert.Equal(("kv/v1", "AuditEntry"), (v.ApiVersion, v.Kind));
        Assert.Equal(42ul, v.Seq);
        Assert.Equal(At(T0), v.At);
        Assert.Equal(("alice", AuditActionView.Override), (v.Who, v.Action));
        Assert.Equal("op-1", v.OperationId!.Value.Value);
        Assert.Equal(OperationKindView.RemoveReplica, v.OperationKind);
        Assert.Equal("remove range 7's replica on store 4", v.What);
        Assert.Equal(new RangeId(7), v.RangeId);
        Assert.Equal((new EpochView(1, 2), new EpochView(3, 2)), (v.EpochBefore, v.EpochAfter));
        Assert.Equal(("store 4 is failing", "applied"), (v.Reason, v.Outcome));

        var setting = AuditEntryView.From(new AuditEntry { Seq = 1, Action = AuditAction.Setting, What = "replication factor 3 -> 5" });
        Assert.Null(setting.OperationId);
        Assert.Null(setting.OperationKind);
        Assert.Null(setting.RangeId);
    }

    [Fact]
    public void Scheduler_status_settings_and_range_map_every_field()
    {
        var s = SchedulerStatusView.From(Scheduler());
        Assert.Equal(("kv/v1", "SchedulerStatus"), (s.ApiVersion, s.Kind));
        Assert.Equal((true, "alice", "upgrade"), (s.Paused, s.PausedBy, s.PausedReason));
        Assert.Equal(["op-s1", "op-s2"], s.RunningOperationIds.Select(i => i.Value));
        Assert.Equal(new SchedulerEventView(At(T0), OperationId.Parse("op-s1"), "store 4 down for 31m (replace after 30m)"), s.Recent[0]);
        Assert.Null(s.Recent[1].OperationId);
        Assert.Equal(TimeSpan.FromMinutes(30), s.StoreDownReplaceAfter);
        Assert.Equal(3u, s.ReplicationFactor);
        Assert.Equal(At(T0 + 5), s.LastPass);

        var c = ClusterSettingsView.From(Settings());
        Assert.Equal(new ClusterSettingsView(5, true, "alice", "grow", At(T0)), c);
        Assert.Equal("ClusterSettings", c.Kind);

        var r = RangeView.From(Range());
        Assert.Equal(("kv/v1", "Range"), (r.ApiVersion, r.Kind));
        Assert.Equal((new RangeId(7), "a", "0x0102", new EpochView(3, 4)), (r.Id, r.StartKey, r.EndKey, r.Epoch));
        Assert.Equal([new ReplicaView(new ReplicaId(70), new StoreId(1), ReplicaRoleView.Voter), new ReplicaView(new ReplicaId(71), new StoreId(2), ReplicaRoleView.Learner)], r.Replicas);
        Assert.Equal(new ReplicaView(new ReplicaId(70), new StoreId(1), ReplicaRoleView.Voter), r.Leader);
        Assert.Equal(("10.0.0.1:20160", 4096ul), (r.LeaderAddress, r.ApproximateSizeBytes));
    }

    [Fact]
    public void Cluster_maps_every_field_and_falls_back_to_the_known_cluster_id_and_no_leader()
    {
        var c = ClusterView.From(ClusterInfo(), "known", 3);
        Assert.Equal(("kv/v1", "Cluster"), (c.ApiVersion, c.Kind));
        Assert.Equal(("c-1", true, At(T0)), (c.ClusterId, c.Bootstrapped, c.BootstrappedAt));
        Assert.Equal(new PlacementMemberView(2, "10.0.0.2:7400"), c.PlacementLeader);
        Assert.Equal([new PlacementMemberView(1, "10.0.0.1:7400"), new PlacementMemberView(2, "10.0.0.2:7400")], c.PlacementMembers);
        Assert.Equal((3u, 4u, 12u, (uint?)3), (c.StoresUp, c.StoreCount, c.RangeCount, c.ReplicationFactor));

        // A header without an id (not bootstrapped yet) and no leader known: the client's id, no leader.
        var bare = ClusterView.From(new GetClusterInfoResponse { Leader = new PlacementMember() }, "known", null);
        Assert.Equal(("known", false, (DateTimeOffset?)null, (PlacementMemberView?)null, (uint?)null), (bare.ClusterId, bare.Bootstrapped, bare.BootstrappedAt, bare.PlacementLeader, bare.ReplicationFactor));
        Assert.Null(ClusterView.From(new GetClusterInfoResponse(), null, null).ClusterId);
    }

    [Fact]
    public void Every_proto_enum_value_has_a_view_value_so_none_shows_as_unknown_by_omission()
    {
        Assert.All(Enum.GetValues<OperationKind>().Where(k => k != OperationKind.Unspecified), k => Assert.NotEqual(OperationKindView.Unknown, ViewEnums.From(k)));
        Assert.All(Enum.GetValues<OperationState>().Where(k => k != OperationState.Unspecified), k => Assert.NotEqual(OperationStateView.Unknown, ViewEnums.From(k)));
        Assert.All(Enum.GetValues<StepKind>().Where(k => k != StepKind.Unspecified), k => Assert.NotEqual(StepKindView.Unknown, ViewEnums.From(k)));
        Assert.All(Enum.GetValues<StepState>().Where(k => k != StepState.Unspecified), k => Assert.NotEqual(StepStateView.Unknown, ViewEnums.From(k)));
        Assert.All(Enum.GetValues<AuditAction>().Where(k => k != AuditAction.Unspecified), k => Assert.NotEqual(AuditActionView.Unknown, ViewEnums.From(k)));
        Assert.All(Enum.GetValues<StoreAdminState>(), k => Assert.NotEqual(StoreAdminStateView.Unknown, ViewEnums.From(k)));
        Assert.All(Enum.GetValues<OperationKind>(), k => Assert.Equal(k, ViewEnums.ToProto(ViewEnums.From(k))));
        Assert.All(Enum.GetValues<OperationState>(), k => Assert.Equal(k, ViewEnums.ToProto(ViewEnums.From(k))));
    }
}
