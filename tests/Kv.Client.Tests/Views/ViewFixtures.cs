using Google.Protobuf;
using Kv.Proto.V1;

namespace Kv.Client.Tests.Views;

/// <summary>Proto messages with every field set to a distinct value, so a mapping that drops or swaps a field fails.</summary>
internal static class ViewFixtures
{
    // 2026-12-05T19:00:00.000Z and neighbours.
    public const long T0 = 1_796_497_200_000;

    public static OperationRecord Operation() => new()
    {
        Id = "op-20261205-190000-0a1b2c3d",
        Spec = new OperationSpec
        {
            Kind = OperationKind.MoveReplica, RangeId = 7, SplitKey = ByteString.CopyFromUtf8("m"), StoreId = 3, FromStoreId = 4, ToStoreId = 2,
            Epoch = new RangeEpoch { ConfVer = 5, Version = 6 }, Force = true,
        },
        Plan = new Plan
        {
            Steps =
            {
                new PlanStep
                {
                    Index = 0, Kind = StepKind.MoveReplica, RangeId = 7, Epoch = new RangeEpoch { ConfVer = 5, Version = 6 }, StoreId = 3, FromStoreId = 4,
                    ToStoreId = 2, SplitKey = ByteString.CopyFrom(0x00, 0xff), Bytes = 1_048_576, Description = "move range 7's replica from store 4 to store 2 (zone b)",
                    State = StepState.Done, EpochAfter = new RangeEpoch { ConfVer = 8, Version = 6 }, Error = "leader moved", StartedMs = T0 + 1000,
                    FinishedMs = T0 + 2000, Attempts = 2,
                },
                new PlanStep { Index = 1, Kind = StepKind.TransferLeader, RangeId = 9, StoreId = 2, State = StepState.Running, Description = "move range 9's leadership to store 2" },
            },
            Preflight = new Preflight
            {
                Safe = false,
                Risks = { new PreflightRisk { RangeId = 7, Step = 0, ToleranceBefore = 1, ToleranceDuring = 0, ToleranceAfter = 1, Reason = "store 5 is down" } },
            },
            Notes = { "zone c has no room" },
        },
        State = OperationState.Running,
        CurrentStep = 1,
        Failure = "not yet",
        RequestedBy = "alice",
        Reason = "hardware swap",
        CreatedMs = T0,
        StartedMs = T0 + 500,
        UpdatedMs = T0 + 2500,
        FinishedMs = T0 + 3000,
        Progress = new OperationProgress { RangesDone = 1, RangesLeft = 3, BytesDone = 1_048_576, BytesLeft = 3_145_728, EtaMs = 90_000 },
        Stuck = { new StuckRange { RangeId = 11, Reason = "no eligible store", SinceMs = T0 + 1500 } },
        CancelRequested = true,
        CancelledBy = "bob",
        Replans = 2,
        Revision = 12,
    };

    public static StoreStatus Store() => new()
    {
        Store = new StoreDescriptor { StoreId = 4, Address = "10.0.0.4:20160", StoreUuid = "uuid-4", Version = "1.2.3", Labels = { ["zone"] = "b", ["host"] = "h4" } },
        AdminState = StoreAdminState.Draining,
        Liveness = StoreLivenessState.StoreLivenessDown,
        LastHeartbeatMs = T0 + 1,
        DownSinceMs = T0 + 2,
        MaintenanceUntilMs = T0 + 3,
        Stats = new StoreStats { CapacityBytes = 100, AvailableBytes = 60, UsedBytes = 40, RangeCount = 5, LeaderCount = 2 },
        UpdatedBy = "alice",
        Reason = "decommission",
        UpdatedMs = T0 + 4,
        DrainOperationId = "op-drain-4",
    };

    public static AuditEntry Audit() => new()
    {
        Seq = 42,
        AtMs = T0,
        Who = "alice",
        Action = AuditAction.Override,
        OperationId = "op-1",
        Kind = OperationKind.RemoveReplica,
        What = "remove range 7's replica on store 4",
        RangeId = 7,
        EpochBefore = new RangeEpoch { ConfVer = 1, Version = 2 },
        EpochAfter = new RangeEpoch { ConfVer = 3, Version = 2 },
        Reason = "store 4 is failing",
        Outcome = "applied",
    };

    public static GetSchedulerStatusResponse Scheduler() => new()
    {
        Paused = true,
        PausedBy = "alice",
        PausedReason = "upgrade",
        RunningOperationIds = { "op-s1", "op-s2" },
        Recent = { new SchedulerEvent { AtMs = T0, OperationId = "op-s1", Reason = "store 4 down for 31m (replace after 30m)" }, new SchedulerEvent { AtMs = T0 + 1, Reason = "balanced" } },
        StoreDownReplaceAfterMs = 1_800_000,
        ReplicationFactor = 3,
        LastPassMs = T0 + 5,
    };

    public static ClusterSettings Settings() => new() { ReplicationFactor = 5, SchedulerPaused = true, UpdatedBy = "alice", Reason = "grow", UpdatedMs = T0 };

    public static GetClusterInfoResponse ClusterInfo() => new()
    {
        Header = new ResponseHeader { ClusterId = "c-1" },
        Bootstrapped = true,
        Members = { new PlacementMember { MemberId = 1, Address = "10.0.0.1:7400" }, new PlacementMember { MemberId = 2, Address = "10.0.0.2:7400" } },
        Leader = new PlacementMember { MemberId = 2, Address = "10.0.0.2:7400" },
        StoreCount = 4,
        StoresUp = 3,
        RangeCount = 12,
        BootstrappedAtMs = T0,
    };

    public static RangeInfo Range() => new()
    {
        Range = new RangeDescriptor
        {
            RangeId = 7, StartKey = ByteString.CopyFromUtf8("a"), EndKey = ByteString.CopyFrom(0x01, 0x02), Epoch = new RangeEpoch { ConfVer = 3, Version = 4 },
            Replicas = { new ReplicaDescriptor { ReplicaId = 70, StoreId = 1 }, new ReplicaDescriptor { ReplicaId = 71, StoreId = 2, Role = ReplicaRole.Learner } },
        },
        Leader = new ReplicaDescriptor { ReplicaId = 70, StoreId = 1 },
        LeaderAddress = "10.0.0.1:20160",
        ApproximateSizeBytes = 4096,
    };
}
