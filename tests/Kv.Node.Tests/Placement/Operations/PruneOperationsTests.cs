using Kv.Node.Placement;
using Kv.Node.Placement.Operations;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Operations.OperationsTestData;
using static Kv.Node.Tests.Placement.PlacementTestData;

namespace Kv.Node.Tests.Placement.Operations;

/// <summary>
/// Pruning finished operations (issue 13, gap 3): a replicated command with its time inside, so
/// every member deletes the same records; PENDING and RUNNING operations are never pruned; finished
/// ones go after the retention or beyond the count bound, oldest finished first; a later submit of
/// a pruned id is a new operation and says so.
/// </summary>
public class PruneOperationsTests
{
    private const long Hour = 60L * 60 * 1000;
    private const long Week = 7 * 24 * Hour;

    private static PlacementCommand Prune(long atMs, long retentionMs = Week, uint keep = 10_000, string who = "executor") =>
        new() { PruneOperations = new PruneOperationsCommand { AtMs = atMs, RetentionMs = retentionMs, KeepFinished = keep, Who = who } };

    /// <summary>Submits a one-step move on range 1 at <paramref name="atMs"/> and finishes it there as <paramref name="final"/>.</summary>
    private static void Finished(PlacementState state, SortedDictionary<string, byte[]> records, string id, long atMs, OperationState final = OperationState.Succeeded)
    {
        ApplyAndPersist(state, Submit(id, Move(), [Step(0, 1)], atMs: atMs), records);
        var finish = Update(id, OperationState.Pending, 0, final, 1, atMs, final == OperationState.Succeeded ? [Done(Step(0, 1), atMs)] : []);
        if (final == OperationState.Failed)
        {
            finish.UpdateOperation.Failure = "snapshot failing";
        }

        Assert.Equal(PlacementErrorCode.PlacementErrorNone, ApplyAndPersist(state, finish, records).Code);
        Assert.Equal(atMs, state.Snapshot.Operations[id].Header.FinishedMs);
    }

    [Fact]
    public void Finished_operations_older_than_the_retention_are_pruned_with_their_steps_and_active_ones_stay()
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        Finished(state, records, "old-ok", T0);
        Finished(state, records, "old-failed", T0 + 1, OperationState.Failed);
        ApplyAndPersist(state, Submit("old-running", Move(2), [Step(0, 2)], atMs: T0 + 2), records);
        ApplyAndPersist(state, Update("old-running", OperationState.Pending, 0, OperationState.Running, 0, T0 + 2), records);
        ApplyAndPersist(state, Submit("old-pending", Move(2, from: 2, to: 5), [Step(0, 2, from: 2, to: 5)], atMs: T0 + 3), records);
        Finished(state, records, "recent", T0 + Week);

        int audited = state.Snapshot.AuditLog.Count;
        var result = ApplyAndPersist(state, Prune(T0 + Week + 10), records);
        Assert.Equal(PlacementErrorCode.PlacementErrorNone, result.Code);

        var s = state.Snapshot;
        Assert.Equal(["old-pending", "old-running", "recent"], s.Operations.Keys);
        Assert.Equal(["old-pending", "old-running"], s.ActiveOperations.Keys);
        // No record of a pruned operation is left (ApplyAndPersist checked every delete named a key that existed).
        foreach (var id in new[] { "old-ok", "old-failed" })
        {
            foreach (var kind in new[] { OperationsRecords.KindOperation, OperationsRecords.KindPlanHead, OperationsRecords.KindPlanStep })
            {
                string prefix = Convert.ToHexString(OperationsRecords.OperationKey(kind, id));
                Assert.DoesNotContain(records.Keys, k => k.StartsWith(prefix, StringComparison.Ordinal));
            }
        }

        // Control for that check: the kept operations' records are there.
        Assert.Contains(records.Keys, k => k.StartsWith(Convert.ToHexString(OperationsRecords.OperationKey(OperationsRecords.KindPlanStep, "recent")), StringComparison.Ordinal));

        // The audit log says what was pruned; the pruned operations' own entries stay.
        var pruned = Assert.Single(s.AuditLog.Skip(audited));
        Assert.Equal(AuditAction.Pruned, pruned.Action);
        Assert.Contains("pruned 2 finished operation(s)", pruned.What, StringComparison.Ordinal);
        Assert.Contains("old-ok", pruned.What, StringComparison.Ordinal);
        Assert.Contains(s.AuditLog, a => a.OperationId == "old-ok" && a.Action == AuditAction.Succeeded);

        // A member that restarts (or a follower applying the same command) has the same state.
        Assert.Equal(DescribeAll(s), DescribeAll(PlacementState.Load(AsRecords(records)).Snapshot));

        // Nothing more is due: the same prune again is a no-op.
        Kept(state, Prune(T0 + Week + 10));
    }

    [Fact]
    public void Beyond_the_count_bound_the_oldest_finished_are_pruned_first()
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        // Finished in the order c, a, b (finished_ms ties broken by id: a before b).
        Finished(state, records, "c", T0);
        Finished(state, records, "a", T0 + 5);
        Finished(state, records, "b", T0 + 5);
        Finished(state, records, "d", T0 + 9);

        ApplyAndPersist(state, Prune(T0 + 10, keep: 2), records);
        Assert.Equal(["b", "d"], state.Snapshot.Operations.Keys);
        Kept(state, Prune(T0 + 10, keep: 2));
    }

    [Fact]
    public void The_same_commands_prune_the_same_operations_on_every_member_whatever_its_clock()
    {
        // Two members apply the same log; their clocks play no part (the time is in the command).
        var a = SmallCluster();
        var b = SmallCluster();
        foreach (var member in new[] { a, b })
        {
            var state = member;
            Applied(state, Submit("x", Move(), [Step(0, 1)], atMs: T0));
            Applied(state, Update("x", OperationState.Pending, 0, OperationState.Succeeded, 1, T0, Done(Step(0, 1), T0)));
            Applied(state, Prune(T0 + Week + 1));
        }

        Assert.Equal(DescribeAll(a.Snapshot), DescribeAll(b.Snapshot));
        Assert.Empty(a.Snapshot.Operations);
    }

    [Theory]
    [InlineData(Hour - 1, 10u, "executor", "retention")]
    [InlineData(Week, 0u, "executor", "keep_finished")]
    [InlineData(Week, 10u, "", "who is empty")]
    public void A_malformed_prune_is_refused_and_changes_nothing(long retentionMs, uint keep, string who, string mentions)
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        Finished(state, records, "old", T0);
        Refused(state, Prune(T0 + (10 * Week), retentionMs, keep, who), PlacementErrorCode.PlacementErrorInvalidArgument, mentions);
        Assert.True(state.Snapshot.Operations.ContainsKey("old"));
    }

    [Fact]
    public void A_submit_of_a_pruned_id_is_a_new_operation_and_says_so()
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        Finished(state, records, "nightly-move", T0);
        ApplyAndPersist(state, Prune(T0 + Week + 1), records);
        Assert.False(state.Snapshot.Operations.ContainsKey("nightly-move"));

        // The same id and content as the pruned one: not answered as "already exists" (the record is gone) but created anew, saying so.
        var result = Applied(state, Submit("nightly-move", Move(), [Step(0, 1)], atMs: T0 + Week + 2));
        Assert.True(result.Changed);
        Assert.Contains("was used by an earlier operation", result.Message, StringComparison.Ordinal);
        var entry = state.Snapshot.Operations["nightly-move"];
        Assert.Equal(OperationState.Pending, entry.State);
        Assert.Equal(T0 + Week + 2, entry.Header.CreatedMs);
        Assert.Contains(entry.PlanHead.Notes, n => n.Contains("pruned from the operations table; this is a new operation", StringComparison.Ordinal));
        var submitted = state.Snapshot.AuditLog[^1];
        Assert.Equal(AuditAction.Submitted, submitted.Action);
        Assert.Contains("earlier operation (MoveReplica, last audited Succeeded", submitted.What, StringComparison.Ordinal);

        // Control: an id never used gets no such note.
        Applied(state, Submit("fresh", Move(2), [Step(0, 2)], atMs: T0 + Week + 3));
        Assert.DoesNotContain(state.Snapshot.Operations["fresh"].PlanHead.Notes, n => n.Contains("earlier operation", StringComparison.Ordinal));

        // And a resubmit while the record exists is still idempotent.
        Kept(state, Submit("nightly-move", Move(), [Step(0, 1)], atMs: T0 + Week + 4));
    }
}
