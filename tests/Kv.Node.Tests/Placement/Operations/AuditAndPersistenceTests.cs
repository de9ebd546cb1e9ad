using Kv.Node.Placement;
using Kv.Node.Placement.Operations;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Operations.OperationsTestData;
using static Kv.Node.Tests.Placement.PlacementTestData;

namespace Kv.Node.Tests.Placement.Operations;

/// <summary>The audit log (ordered, bounded, queried by time) and the persistence of operations, admin state and settings (Load rebuilds what Apply left).</summary>
public class AuditAndPersistenceTests
{
    [Fact]
    public void Audit_entries_get_increasing_seqs_and_are_queried_by_time_and_by_seq()
    {
        var state = SmallCluster();
        Applied(state, Settings(paused: true, atMs: T0 + 10));
        Applied(state, Submit("op", Move(), atMs: T0 + 20));
        Applied(state, Maintenance(4, T0 + 100_000, atMs: T0 + 30));
        Applied(state, Cancel("op", atMs: T0 + 40));

        var log = state.Snapshot.AuditLog;
        Assert.Equal([1UL, 2, 3, 4], log.Select(a => a.Seq));
        Assert.Equal([AuditAction.Setting, AuditAction.Submitted, AuditAction.Setting, AuditAction.Cancelled], log.Select(a => a.Action));
        Assert.Equal([3UL, 4], state.Snapshot.AuditSince(T0 + 30, 0).Select(a => a.Seq));
        Assert.Equal([2UL], state.Snapshot.AuditSince(T0 + 11, 1).Select(a => a.Seq));
        Assert.Empty(state.Snapshot.AuditSince(T0 + 41, 0));
        Assert.Equal([3UL, 4], state.Snapshot.Ops.AuditAfter(2, 0).Select(a => a.Seq));
        Assert.Equal([1UL], state.Snapshot.Ops.AuditAfter(0, 1).Select(a => a.Seq));
        Assert.Empty(state.Snapshot.Ops.AuditAfter(4, 0));
    }

    [Fact]
    public void The_audit_log_keeps_the_newest_ten_thousand_entries_and_deletes_the_records_of_older_ones()
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        const int extra = 7;
        for (int i = 0; i < OperationsState.MaxAuditEntries + extra; i++)
        {
            Applied(state, Settings(paused: i % 2 == 0, atMs: T0 + i), records);
        }

        var log = state.Snapshot.AuditLog;
        Assert.Equal(OperationsState.MaxAuditEntries, log.Count);
        Assert.Equal((ulong)extra + 1, log[0].Seq);
        Assert.Equal((ulong)(OperationsState.MaxAuditEntries + extra), log[^1].Seq);
        string auditPrefix = Convert.ToHexString([PlacementState.Prefix, OperationsRecords.KindAudit]);
        Assert.Equal(OperationsState.MaxAuditEntries, records.Keys.Count(k => k.StartsWith(auditPrefix, StringComparison.Ordinal)));

        // After a restart the sequence continues where it stood (no seq is handed out twice).
        var loaded = PlacementState.Load(AsRecords(records));
        Assert.Equal(DescribeAll(state.Snapshot), DescribeAll(loaded.Snapshot));
        Applied(loaded, Settings(replicationFactor: 4));
        Assert.Equal((ulong)(OperationsState.MaxAuditEntries + extra + 1), loaded.Snapshot.AuditLog[^1].Seq);
        Assert.Equal((ulong)extra + 2, loaded.Snapshot.AuditLog[0].Seq);
    }

    [Fact]
    public void Load_of_the_mutations_rebuilds_exactly_what_apply_left_after_every_command()
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        var steps = new[] { Step(0, 1), Step(1, 2), Step(2, 2, to: 5) };
        var forced = Move(rangeId: 2);
        forced.Force = true;
        var replan = Update("a", OperationState.Running, 1, OperationState.Running, 1);
        replan.UpdateOperation.ReplanFrom = 1;
        replan.UpdateOperation.Replanned = new Plan();
        replan.UpdateOperation.Replanned.Steps.Add(Step(1, 2, version: 3));
        replan.UpdateOperation.Progress = new OperationProgress { RangesDone = 1, RangesLeft = 1, BytesDone = 10, EtaMs = 99 };
        replan.UpdateOperation.Stuck.Add(new StuckRange { RangeId = 2, Reason = "snapshot failing", SinceMs = T0 });
        PlacementCommand[] commands =
        [
            Submit("a", Move(), steps, reason: "rebalance"),
            Submit("b", forced, reason: "forced"),
            Submit("drain-5", Drain(5), []),
            Update("a", OperationState.Pending, 0, OperationState.Running, 0),
            Update("a", OperationState.Running, 0, OperationState.Running, 1, T0 + 5, Done(steps[0])),
            Update("a", OperationState.Running, 0, OperationState.Running, 1), // refused: stale
            replan,
            Cancel("b"),
            Cancel("a"),
            Admin(4, StoreAdminState.Draining),
            Admin(4, StoreAdminState.Drained),
            Admin(4, StoreAdminState.Removed),
            Maintenance(5, T0 + 60_000),
            Settings(replicationFactor: 1, paused: true),
            PutStore(4), // refused: removed
        ];
        foreach (var command in commands)
        {
            ApplyAndPersist(state, command, records);
            var loaded = PlacementState.Load(AsRecords(records));
            Assert.Equal(DescribeAll(state.Snapshot), DescribeAll(loaded.Snapshot));
        }

        // The run exercised what it claims to (a Load that dropped these would still compare equal on an empty state).
        var s = state.Snapshot;
        Assert.Equal(3, s.Operations.Count);
        Assert.Equal(["a", "drain-5"], s.ActiveOperations.Keys);
        Assert.True(s.Operations["a"].Header.CancelRequested);
        Assert.Equal(1U, s.Operations["a"].Header.Replans);
        Assert.Equal(StoreAdminState.Removed, s.StoreAdminState(4));
        Assert.True(s.InMaintenance(5, T0));
        Assert.Equal(1U, s.ReplicationFactor);
        Assert.True(s.SchedulerPaused);
        Assert.Contains(s.AuditLog, a => a.Action == AuditAction.Override);
    }

    [Fact]
    public void Updating_one_step_of_a_long_plan_writes_only_that_step_so_a_drain_writes_linear_bytes()
    {
        var state = SmallCluster();
        const int n = 2_000;
        var steps = Enumerable.Range(0, n).Select(i => Step((uint)i, (ulong)(1 + (i % 2)), from: 3)).ToArray();
        var submitted = Applied(state, Submit("drain-3", Drain(3), steps));
        Applied(state, Update("drain-3", OperationState.Pending, 0, OperationState.Running, 0));

        long largestUpdate = 0;
        for (int i = 0; i < n; i++)
        {
            var update = Update("drain-3", OperationState.Running, (uint)i, OperationState.Running, (uint)i + 1, T0 + i, Done(steps[i], T0 + i));
            update.UpdateOperation.Progress = new OperationProgress { RangesDone = (uint)i + 1, RangesLeft = (uint)(n - i - 1) };
            largestUpdate = Math.Max(largestUpdate, Bytes(Applied(state, update)));
        }

        // Each update writes the header, one step and one audit entry: a few hundred bytes,
        // whatever the plan's length; rewriting the plan would write the submitted size each time.
        long planBytes = Bytes(submitted);
        Assert.True(largestUpdate < 1_500, $"an update wrote {largestUpdate} bytes");
        Assert.True(planBytes > 100 * largestUpdate, $"the plan ({planBytes} bytes) dwarfs an update ({largestUpdate} bytes)");
        Assert.Equal(n, state.Snapshot.Operations["drain-3"].Steps.Count(x => x.State == StepState.Done));
    }

    [Fact]
    public void Load_refuses_operation_records_that_do_not_fit_together()
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        ApplyAndPersist(state, Submit("op", Move(), [Step(0, 1), Step(1, 2), Step(2, 1)]), records);
        Assert.Equal(DescribeAll(state.Snapshot), DescribeAll(PlacementState.Load(AsRecords(records)).Snapshot));

        string Hex(byte[] key) => Convert.ToHexString(key);
        var missingStep = new SortedDictionary<string, byte[]>(records, StringComparer.Ordinal);
        missingStep.Remove(Hex(OperationsRecords.StepKey("op", 1)));
        Assert.Contains("step 1 is missing", Assert.Throws<InvalidDataException>(() => PlacementState.Load(AsRecords(missingStep))).Message, StringComparison.Ordinal);

        var noHeader = new SortedDictionary<string, byte[]>(records, StringComparer.Ordinal);
        noHeader.Remove(Hex(OperationsRecords.OperationKey(OperationsRecords.KindOperation, "op")));
        Assert.Contains("no operation record", Assert.Throws<InvalidDataException>(() => PlacementState.Load(AsRecords(noHeader))).Message, StringComparison.Ordinal);

        var wrongIndex = new SortedDictionary<string, byte[]>(records, StringComparer.Ordinal)
        {
            [Hex(OperationsRecords.StepKey("op", 7))] = records[Hex(OperationsRecords.StepKey("op", 2))],
        };
        var ex = Assert.Throws<InvalidDataException>(() => PlacementState.Load(AsRecords(wrongIndex)));
        Assert.Contains(Hex(OperationsRecords.StepKey("op", 7)), ex.Message, StringComparison.Ordinal);

        var badId = new SortedDictionary<string, byte[]>(records, StringComparer.Ordinal)
        {
            [Hex(OperationsRecords.OperationKey(OperationsRecords.KindPlanHead, "a b"))] = [1],
        };
        Assert.Throws<InvalidDataException>(() => PlacementState.Load(AsRecords(badId)));
    }
}
