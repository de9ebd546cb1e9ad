using Kv.Node.Placement;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Operations.OperationsTestData;
using static Kv.Node.Tests.Placement.PlacementTestData;

namespace Kv.Node.Tests.Placement.Operations;

/// <summary>
/// A drain and its store's DRAINING state are one replicated command (issue 13, gap 2): the submit
/// marks the store, the cancel unmarks it, and a running drain's store cannot be made ACTIVE
/// behind its back. The invariant checked after every apply: every active, not cancel-requested
/// drain's store is DRAINING (or DRAINED once empty). The checker's negative control is the
/// state the old two-proposal protocol left when the leader failed between its proposals.
/// </summary>
public class DrainMarkingTests
{
    /// <summary>Null when the invariant holds; otherwise the drain that breaks it.</summary>
    private static string? DrainWithoutDrainingStore(PlacementSnapshot s)
    {
        foreach (var entry in s.ActiveOperations.Values)
        {
            var spec = entry.Header.Spec;
            if (spec.Kind == OperationKind.DrainStore && !entry.Header.CancelRequested
                && s.StoreAdminState(spec.StoreId) is not (StoreAdminState.Draining or StoreAdminState.Drained))
            {
                return $"drain {entry.Id} runs on store {spec.StoreId}, which is {s.StoreAdminState(spec.StoreId)}";
            }
        }

        return null;
    }

    private static PlacementApplyResult Checked(PlacementState state, PlacementCommand command, SortedDictionary<string, byte[]> records)
    {
        var result = ApplyAndPersist(state, command, records);
        Assert.Null(DrainWithoutDrainingStore(state.Snapshot));
        // What a new leader would load after a failover right here: the same, invariant included.
        var loaded = PlacementState.Load(AsRecords(records));
        Assert.Equal(DescribeAll(state.Snapshot), DescribeAll(loaded.Snapshot));
        return result;
    }

    [Fact]
    public void Submitting_a_drain_marks_its_store_draining_in_the_same_apply()
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        int audited = state.Snapshot.AuditLog.Count;
        var result = Checked(state, Submit("drain-3", Drain(3), [Step(0, 1, from: 3), Step(1, 2, from: 3)], reason: "decommission"), records);

        Assert.Equal(PlacementErrorCode.PlacementErrorNone, result.Code);
        Assert.Equal(StoreAdminState.Draining, state.Snapshot.StoreAdminState(3));
        var admin = state.Snapshot.Ops.StoreAdmin[3];
        Assert.Equal("alice", admin.UpdatedBy);
        Assert.Equal("decommission", admin.Reason);
        Assert.Equal(T0, admin.UpdatedMs);
        // One apply wrote both records: the operation's and the store's.
        Assert.Contains(result.Mutations, m => m.Key.AsSpan().SequenceEqual(Kv.Node.Placement.Operations.OperationsRecords.StoreAdminKey(3)));
        var audit = state.Snapshot.AuditLog.Skip(audited).ToList();
        Assert.Equal([AuditAction.Submitted, AuditAction.Setting], audit.Select(a => a.Action));
        Assert.Contains("Active -> Draining (drain drain-3)", audit[1].What, StringComparison.Ordinal);

        // A resubmit of the same drain changes nothing.
        Kept(state, Submit("drain-3", Drain(3), [Step(0, 1, from: 3), Step(1, 2, from: 3)], reason: "decommission"));
    }

    [Fact]
    public void A_drain_the_store_state_machine_would_refuse_is_refused_whole()
    {
        var state = SmallCluster();
        // Stores 4 and 5 draining leave stores 1 and 2 active besides store 3: too few for three replicas.
        Applied(state, Admin(4, StoreAdminState.Draining));
        Applied(state, Admin(5, StoreAdminState.Draining));
        var refused = Refused(state, Submit("drain-3", Drain(3), [Step(0, 1, from: 3)]), PlacementErrorCode.PlacementErrorFailedPrecondition, "cannot start draining");
        Assert.Contains("add a store first", refused.Message, StringComparison.Ordinal);
        Assert.False(state.Snapshot.Operations.ContainsKey("drain-3"));
        Assert.Equal(StoreAdminState.Active, state.Snapshot.StoreAdminState(3));
    }

    [Fact]
    public void A_drain_resumed_on_a_store_already_draining_keeps_it_draining_without_a_second_setting()
    {
        var state = SmallCluster();
        Applied(state, Admin(3, StoreAdminState.Draining));
        int audited = state.Snapshot.AuditLog.Count;
        Applied(state, Submit("scheduler-resume", Drain(3), [Step(0, 1, from: 3)], by: "scheduler"));
        Assert.Equal(StoreAdminState.Draining, state.Snapshot.StoreAdminState(3));
        Assert.Equal([AuditAction.Submitted], state.Snapshot.AuditLog.Skip(audited).Select(a => a.Action));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Cancelling_a_drain_makes_its_store_active_in_the_same_apply(bool started)
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        Checked(state, Submit("drain-3", Drain(3), [Step(0, 1, from: 3), Step(1, 2, from: 3)]), records);
        if (started)
        {
            Checked(state, Update("drain-3", OperationState.Pending, 0, OperationState.Running, 0), records);
        }

        var result = Checked(state, Cancel("drain-3", who: "bob"), records);
        Assert.Contains("store 3 is ACTIVE again", result.Message, StringComparison.Ordinal);
        Assert.Equal(StoreAdminState.Active, state.Snapshot.StoreAdminState(3));
        Assert.Equal("bob", state.Snapshot.Ops.StoreAdmin[3].UpdatedBy);
        Assert.Equal(started ? OperationState.Running : OperationState.Cancelled, state.Snapshot.Operations["drain-3"].State);
        Assert.True(state.Snapshot.Operations["drain-3"].Header.CancelRequested);
        Assert.Contains(state.Snapshot.AuditLog, a => a.Action == AuditAction.Setting && a.What.Contains("Draining -> Active (drain drain-3 cancelled)", StringComparison.Ordinal));
    }

    [Fact]
    public void A_drain_whose_last_replica_left_cannot_be_cancelled_and_its_store_stays_draining()
    {
        var state = SmallCluster();
        Applied(state, Submit("drain-3", Drain(3), [Step(0, 1, from: 3), Step(1, 2, from: 3)]));
        Applied(state, Update("drain-3", OperationState.Pending, 0, OperationState.Running, 0));
        Applied(state, PutRange(Range(1, "", "m", 2, 3, 1, 2, 4)));
        Applied(state, PutRange(Range(2, "m", "", 2, 3, 1, 2, 4)));
        Refused(state, Cancel("drain-3"), PlacementErrorCode.PlacementErrorFailedPrecondition, "last replica");
        Assert.Equal(StoreAdminState.Draining, state.Snapshot.StoreAdminState(3));
    }

    [Fact]
    public void A_running_drains_store_is_not_made_active_behind_its_back()
    {
        var state = SmallCluster();
        Applied(state, Submit("drain-3", Drain(3), [Step(0, 1, from: 3)]));
        Refused(state, Admin(3, StoreAdminState.Active), PlacementErrorCode.PlacementErrorFailedPrecondition, "its drain drain-3 is running");

        // Once the drain is cancelled (which already made it ACTIVE) or finished, the command is a no-op or allowed.
        Applied(state, Cancel("drain-3"));
        Kept(state, Admin(3, StoreAdminState.Active));
    }

    /// <summary>
    /// Negative control for the checker: the old protocol proposed the submit, then DRAINING as a
    /// second command. Its records after a leader failure between the two are the submit's alone;
    /// loaded, they hold a drain on an ACTIVE store, and the checker must say so.
    /// </summary>
    [Fact]
    public void The_checker_catches_the_state_the_old_two_proposal_drain_left_after_a_failover()
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        ApplyAndPersist(state, Submit("drain-3", Drain(3), [Step(0, 1, from: 3)]), records);
        // Drop what the second proposal would have written (the store's admin record and its audit entry).
        string adminKey = Convert.ToHexString(Kv.Node.Placement.Operations.OperationsRecords.StoreAdminKey(3));
        Assert.True(records.Remove(adminKey));
        ulong settingSeq = state.Snapshot.AuditLog[^1].Seq;
        Assert.True(records.Remove(Convert.ToHexString(Kv.Node.Placement.Operations.OperationsRecords.AuditKey(settingSeq))));

        var oldProtocol = PlacementState.Load(AsRecords(records));
        Assert.True(oldProtocol.Snapshot.Operations.ContainsKey("drain-3"));
        var broken = DrainWithoutDrainingStore(oldProtocol.Snapshot);
        Assert.NotNull(broken);
        Assert.Contains("store 3, which is Active", broken, StringComparison.Ordinal);
    }
}
