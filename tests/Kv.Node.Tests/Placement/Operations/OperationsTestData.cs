using System.Text;
using Google.Protobuf;
using Kv.Node.Placement;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.PlacementTestData;

namespace Kv.Node.Tests.Placement.Operations;

/// <summary>A small cluster, builders for the operation, store and settings commands, and checks that a command was refused or applied.</summary>
internal static class OperationsTestData
{
    public const long T0 = 1_700_000_000_000;

    /// <summary>
    /// Bootstrapped, stores 1 to 5 registered; range 1 ["", "m") and range 2 ["m", "") on stores 1, 2, 3
    /// (stores 4 and 5 hold nothing). Mutations go to <paramref name="records"/> when given.
    /// </summary>
    public static PlacementState SmallCluster(SortedDictionary<string, byte[]>? records = null)
    {
        records ??= new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = PlacementState.Empty;
        Applied(state, Bootstrap(), records);
        for (ulong id = 1; id <= 5; id++)
        {
            Applied(state, PutStore(id, $"10.0.0.{id}:7000", $"uuid-{id}"), records);
        }

        Applied(state, PutRange(Range(1, "", "m", 2, 1)), records);
        Applied(state, PutRange(Range(2, "m", "", 2, 1)), records);
        return state;
    }

    public static PlacementApplyResult Applied(PlacementState state, PlacementCommand command, SortedDictionary<string, byte[]>? records = null)
    {
        var result = records is null ? state.Apply(command) : ApplyAndPersist(state, command, records);
        Assert.True(result.Code == PlacementErrorCode.PlacementErrorNone, $"expected the command to apply: {result}");
        return result;
    }

    /// <summary>Applies a command that must be refused with <paramref name="code"/>, and checks it changed nothing.</summary>
    public static PlacementApplyResult Refused(PlacementState state, PlacementCommand command, PlacementErrorCode code, string? mentions = null)
    {
        var before = state.Snapshot;
        string described = DescribeAll(before);
        var result = state.Apply(command);
        Assert.True(result.Code == code, $"expected {code}, got {result}");
        Assert.Empty(result.Mutations);
        Assert.Same(before, state.Snapshot);
        Assert.Equal(described, DescribeAll(state.Snapshot));
        Assert.False(string.IsNullOrWhiteSpace(result.Message));
        if (mentions is not null)
        {
            Assert.Contains(mentions, result.Message, StringComparison.Ordinal);
        }

        return result;
    }

    /// <summary>Applies a command that must be a no-op: applied, no mutations, the same snapshot.</summary>
    public static PlacementApplyResult Kept(PlacementState state, PlacementCommand command)
    {
        var before = state.Snapshot;
        var result = state.Apply(command);
        Assert.True(result.Code == PlacementErrorCode.PlacementErrorNone, $"expected a no-op, got {result}");
        Assert.Empty(result.Mutations);
        Assert.Same(before, state.Snapshot);
        return result;
    }

    public static PlanStep Step(uint index, ulong rangeId, StepKind kind = StepKind.MoveReplica, ulong from = 1, ulong to = 4, ulong version = 2, ulong confVer = 1) => new()
    {
        Index = index,
        Kind = kind,
        RangeId = rangeId,
        Epoch = new RangeEpoch { Version = version, ConfVer = confVer },
        FromStoreId = from,
        ToStoreId = to,
        Bytes = 1024,
        Description = $"move range {rangeId}'s replica from store {from} to store {to}",
        State = StepState.Pending,
    };

    public static OperationSpec Move(ulong rangeId = 1, ulong from = 1, ulong to = 4) =>
        new() { Kind = OperationKind.MoveReplica, RangeId = rangeId, FromStoreId = from, ToStoreId = to };

    public static OperationSpec Drain(ulong storeId) => new() { Kind = OperationKind.DrainStore, StoreId = storeId };

    public static PlacementCommand Submit(string id, OperationSpec spec, IEnumerable<PlanStep>? steps = null, string by = "alice", string reason = "", long atMs = T0)
    {
        var plan = new Plan { Preflight = new Preflight { Safe = true } };
        plan.Notes.Add("a note");
        plan.Steps.AddRange(steps ?? [Step(0, spec.RangeId == 0 ? 1 : spec.RangeId)]);
        return new PlacementCommand
        {
            SubmitOperation = new SubmitOperationCommand
            {
                AtMs = atMs,
                Operation = new OperationRecord
                {
                    Id = id,
                    Spec = spec,
                    Plan = plan,
                    State = OperationState.Pending,
                    RequestedBy = by,
                    Reason = reason,
                    Progress = new OperationProgress { RangesLeft = (uint)plan.Steps.Count },
                },
            },
        };
    }

    public static PlacementCommand Update(string id, OperationState expected, uint expectedStep, OperationState state, uint step, long atMs = T0 + 1000, params PlanStep[] steps)
    {
        var update = new UpdateOperationCommand
        {
            Id = id,
            ExpectedState = expected,
            ExpectedStep = expectedStep,
            State = state,
            CurrentStep = step,
            AtMs = atMs,
            Who = "executor",
        };
        update.Steps.AddRange(steps);
        return new PlacementCommand { UpdateOperation = update };
    }

    /// <summary><paramref name="planned"/> as the executor reports it done: epoch after is conf_ver + 2 (learner added, then swapped).</summary>
    public static PlanStep Done(PlanStep planned, long atMs = T0 + 1000)
    {
        var done = planned.Clone();
        done.State = StepState.Done;
        done.EpochAfter = new RangeEpoch { Version = planned.Epoch.Version, ConfVer = planned.Epoch.ConfVer + 2 };
        done.StartedMs = atMs - 500;
        done.FinishedMs = atMs;
        return done;
    }

    public static PlacementCommand Cancel(string id, string who = "bob", long atMs = T0 + 2000, string reason = "changed my mind") =>
        new() { CancelOperation = new CancelOperationCommand { Id = id, Who = who, AtMs = atMs, Reason = reason } };

    public static PlacementCommand Admin(ulong storeId, StoreAdminState state, string who = "carol", long atMs = T0 + 3000) =>
        new() { SetStoreAdminState = new SetStoreAdminStateCommand { StoreId = storeId, State = state, Who = who, Reason = "test", AtMs = atMs } };

    public static PlacementCommand Maintenance(ulong storeId, long untilMs, long atMs = T0, string who = "dave") =>
        new() { SetStoreMaintenance = new SetStoreMaintenanceCommand { StoreId = storeId, UntilMs = untilMs, AtMs = atMs, Who = who, Reason = "kernel upgrade" } };

    public static PlacementCommand Settings(uint? replicationFactor = null, bool? paused = null, long atMs = T0, string who = "erin")
    {
        var c = new SetClusterSettingsCommand { Who = who, Reason = "test", AtMs = atMs };
        if (replicationFactor is { } rf)
        {
            c.ReplicationFactor = rf;
        }

        if (paused is { } p)
        {
            c.SchedulerPaused = p;
        }

        return new PlacementCommand { SetClusterSettings = c };
    }

    /// <summary>Everything the snapshot holds, operations, admin state, settings and audit included, in a canonical order.</summary>
    public static string DescribeAll(PlacementSnapshot s)
    {
        var b = new StringBuilder(Describe(s)).AppendLine();
        foreach (var (id, entry) in s.Operations)
        {
            b.Append("op ").Append(id).Append(' ').Append(entry.ToRecord()).AppendLine();
        }

        b.Append("active=").AppendJoin(",", s.ActiveOperations.Keys).AppendLine();
        foreach (var (id, admin) in s.Ops.StoreAdmin)
        {
            b.Append("admin ").Append(id).Append(' ').Append(admin).AppendLine();
        }

        b.Append("settings=").Append(s.Ops.Settings).Append(" rf=").Append(s.ReplicationFactor).Append(" paused=").Append(s.SchedulerPaused).AppendLine();
        foreach (var (id, split) in s.Ops.Splits)
        {
            b.Append("split ").Append(id).Append(' ').Append(split).AppendLine();
        }

        b.Append("gc safe point ").Append(s.Gc.SafePointRecord).AppendLine();
        foreach (var (name, service) in s.Gc.Services)
        {
            b.Append("service ").Append(name).Append(' ').Append(service).AppendLine();
        }

        foreach (var entry in s.AuditLog)
        {
            b.Append("audit ").Append(entry).AppendLine();
        }

        return b.ToString();
    }

    public static long Bytes(PlacementApplyResult result) => result.Mutations.Sum(m => m.Key.Length + (m.Value?.Length ?? 0));

    public static ByteString Key(string s) => ByteString.CopyFromUtf8(s);
}
