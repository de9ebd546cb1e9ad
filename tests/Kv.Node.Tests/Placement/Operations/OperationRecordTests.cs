using Kv.Node.Placement;
using Kv.Node.Placement.Operations;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Operations.OperationsTestData;

namespace Kv.Node.Tests.Placement.Operations;

/// <summary>
/// Operation records in placement's state (shared/DESIGN.md section 8): idempotent submit by id,
/// conditional updates that a late or duplicate proposer cannot apply, cancel in every state.
/// Each rule is checked with the command that must pass beside the one that must be refused.
/// </summary>
public class OperationRecordTests
{
    [Fact]
    public void Submit_stores_a_pending_record_with_placement_owned_bookkeeping_and_audits_it()
    {
        var state = SmallCluster();
        var command = Submit("op-1", Move(), [Step(0, 1), Step(1, 2)], reason: "rebalance");
        // Bookkeeping the proposer cannot set: placement overwrites it.
        command.SubmitOperation.Operation.Revision = 99;
        command.SubmitOperation.Operation.Replans = 7;
        var result = Applied(state, command);

        var record = result.Operation!;
        Assert.Equal(OperationState.Pending, record.State);
        Assert.Equal(1UL, record.Revision);
        Assert.Equal(0U, record.Replans);
        Assert.Equal(T0, record.CreatedMs);
        Assert.Equal(2, record.Plan.Steps.Count);
        Assert.Equal("a note", record.Plan.Notes.Single());
        Assert.True(state.Snapshot.ActiveOperations.ContainsKey("op-1"));
        Assert.Equal(record, state.Snapshot.Operations["op-1"].ToRecord());

        var audit = Assert.Single(state.Snapshot.AuditLog);
        Assert.Equal(AuditAction.Submitted, audit.Action);
        Assert.Equal("alice", audit.Who);
        Assert.Equal("op-1", audit.OperationId);
        Assert.Equal("rebalance", audit.Reason);
    }

    [Fact]
    public void Resubmitting_an_id_with_equal_content_returns_the_existing_record_and_changes_nothing()
    {
        var state = SmallCluster();
        Applied(state, Submit("op-1", Move(), reason: "r"));
        Applied(state, Update("op-1", OperationState.Pending, 0, OperationState.Running, 0));

        // Another plan and another time: only spec, requested_by and reason identify the request.
        var again = Kept(state, Submit("op-1", Move(), [Step(0, 1), Step(1, 2)], reason: "r", atMs: T0 + 50_000));
        Assert.Equal(OperationState.Running, again.Operation!.State);
        Assert.Single(again.Operation.Plan.Steps);
        Assert.Equal(T0, again.Operation.CreatedMs);
        Assert.Equal(1, state.Snapshot.AuditLog.Count(a => a.Action == AuditAction.Submitted));
    }

    public static TheoryData<string> Conflicts => ["spec", "requested_by", "reason", "force"];

    [Theory]
    [MemberData(nameof(Conflicts))]
    public void Resubmitting_an_id_with_different_content_is_refused_with_the_existing_record(string differs)
    {
        var state = SmallCluster();
        Applied(state, Submit("op-1", Move(), reason: "r"));
        var command = differs switch
        {
            "spec" => Submit("op-1", Move(to: 5), reason: "r"),
            "requested_by" => Submit("op-1", Move(), by: "mallory", reason: "r"),
            "reason" => Submit("op-1", Move(), reason: "other"),
            _ => Submit("op-1", Move(), reason: "r"),
        };
        if (differs == "force")
        {
            command.SubmitOperation.Operation.Spec.Force = true;
        }

        var refused = Refused(state, command, PlacementErrorCode.PlacementErrorConflict, "op-1");
        Assert.Contains("new id", refused.Message, StringComparison.Ordinal);
        Assert.Equal(Move(), refused.Operation!.Spec);
        Assert.Equal("alice", refused.Operation.RequestedBy);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("a/b")]
    [InlineData("op:1")]
    [InlineData("é")]
    [InlineData("x\0")]
    public void An_invalid_operation_id_is_refused(string id)
    {
        var state = SmallCluster();
        Refused(state, Submit(id, Move()), PlacementErrorCode.PlacementErrorInvalidArgument, "operation id");
    }

    [Fact]
    public void Ids_at_the_limits_of_the_alphabet_and_length_are_accepted_and_one_longer_is_refused()
    {
        var state = SmallCluster();
        Applied(state, Submit("A-z_0.9", Move()));
        Applied(state, Submit(new string('x', 128), Move()));
        Refused(state, Submit(new string('y', 129), Move()), PlacementErrorCode.PlacementErrorInvalidArgument, "128");
        Assert.Equal(2, state.Snapshot.Operations.Count);
    }

    [Fact]
    public void Unknown_ranges_and_stores_in_the_spec_or_the_plan_are_refused_at_apply()
    {
        var state = SmallCluster();
        Refused(state, Submit("a", Move(rangeId: 9)), PlacementErrorCode.PlacementErrorNotFound, "range 9");
        Refused(state, Submit("b", Move(to: 9)), PlacementErrorCode.PlacementErrorNotFound, "store 9");
        Refused(state, Submit("c", Drain(9), [Step(0, 1)]), PlacementErrorCode.PlacementErrorNotFound, "store 9");
        Refused(state, Submit("d", Move(), [Step(0, 1), Step(1, 7)]), PlacementErrorCode.PlacementErrorNotFound, "range 7");
        Refused(state, Submit("e", Move(), [Step(0, 1, to: 8)]), PlacementErrorCode.PlacementErrorNotFound, "store 8");
        // Control: the same commands with known ids apply.
        Applied(state, Submit("a", Move(rangeId: 2)));
        Applied(state, Submit("c", Drain(1), [Step(0, 1), Step(1, 2)]));
    }

    [Fact]
    public void A_plan_made_on_stale_knowledge_is_refused_when_the_directory_moved_on()
    {
        var state = SmallCluster();
        var fenced = Move();
        fenced.Epoch = new RangeEpoch { Version = 2, ConfVer = 1 };
        var command = Submit("fenced", fenced);
        // The range splits between planning and apply: range 1 is at version 3 now, range 3 new.
        Applied(state, PlacementTestData.PutRange(PlacementTestData.Range(1, "", "g", 3, 1)));
        Refused(state, command, PlacementErrorCode.PlacementErrorFailedPrecondition, "epoch");
        fenced.Epoch = new RangeEpoch { Version = 3, ConfVer = 1 };
        Applied(state, Submit("fenced", fenced));
    }

    [Fact]
    public void Malformed_submissions_are_refused_with_what_to_fix()
    {
        var state = SmallCluster();
        var forced = Move();
        forced.Force = true;
        Refused(state, Submit("f", forced), PlacementErrorCode.PlacementErrorInvalidArgument, "--reason");

        var running = Submit("r", Move());
        running.SubmitOperation.Operation.State = OperationState.Running;
        Refused(state, running, PlacementErrorCode.PlacementErrorInvalidArgument, "PENDING");

        var noPlan = Submit("p", Move());
        noPlan.SubmitOperation.Operation.Plan = null;
        Refused(state, noPlan, PlacementErrorCode.PlacementErrorInvalidArgument, "plan");

        Refused(state, Submit("i", Move(), [Step(1, 1)]), PlacementErrorCode.PlacementErrorInvalidArgument, "index");
        Refused(state, Submit("w", Move(), by: " "), PlacementErrorCode.PlacementErrorInvalidArgument, "requested_by");
        Refused(state, Submit("k", new OperationSpec { RangeId = 1 }), PlacementErrorCode.PlacementErrorInvalidArgument, "kind");
        Refused(state, Submit("s", new OperationSpec { Kind = OperationKind.Split, RangeId = 1, SplitKey = Key("q") }), PlacementErrorCode.PlacementErrorInvalidArgument, "split key");

        // Controls: a split key inside the range, and --force with a reason, apply; the override is audited.
        Applied(state, Submit("s", new OperationSpec { Kind = OperationKind.Split, RangeId = 1, SplitKey = Key("g") }, [Step(0, 1, StepKind.Split)]));
        Applied(state, Submit("f", forced, reason: "store 1 is dying"));
        var overrideEntry = Assert.Single(state.Snapshot.AuditLog, a => a.Action == AuditAction.Override);
        Assert.Equal("f", overrideEntry.OperationId);
        Assert.Equal("store 1 is dying", overrideEntry.Reason);
    }

    // ---- Conditional updates ----

    [Fact]
    public void An_update_applies_only_at_the_state_and_step_it_expects_so_a_duplicate_or_late_one_changes_nothing()
    {
        var state = SmallCluster();
        var steps = new[] { Step(0, 1), Step(1, 2) };
        Applied(state, Submit("op", Move(), steps));
        var start = Applied(state, Update("op", OperationState.Pending, 0, OperationState.Running, 0, atMs: T0 + 10));
        Assert.Equal(T0 + 10, start.Operation!.StartedMs);
        Assert.Equal(2UL, start.Operation.Revision);

        var stepDone = Update("op", OperationState.Running, 0, OperationState.Running, 1, T0 + 20, Done(steps[0], T0 + 20));
        Applied(state, stepDone);
        // The same update again (a retry, or a deposed leader's late proposal): refused, nothing changes.
        var duplicate = Refused(state, stepDone, PlacementErrorCode.PlacementErrorConflict, "re-read");
        Assert.Equal(1U, duplicate.Operation!.CurrentStep);
        // A stale Pending expectation: refused too.
        Refused(state, Update("op", OperationState.Pending, 0, OperationState.Running, 0), PlacementErrorCode.PlacementErrorConflict);
        // A revision fence: a proposer that read revision 2 is refused once revision 3 exists.
        var fenced = Update("op", OperationState.Running, 1, OperationState.Running, 1);
        fenced.UpdateOperation.ExpectedRevision = 2;
        Refused(state, fenced, PlacementErrorCode.PlacementErrorConflict, "revision 3");
        // Control: the current expectation applies.
        fenced.UpdateOperation.ExpectedRevision = 3;
        Applied(state, fenced);

        var done = Applied(state, Update("op", OperationState.Running, 1, OperationState.Succeeded, 2, T0 + 30, Done(steps[1], T0 + 30)));
        Assert.Equal(OperationState.Succeeded, done.Operation!.State);
        Assert.Equal(T0 + 30, done.Operation.FinishedMs);
        Assert.Empty(state.Snapshot.ActiveOperations);

        var actions = state.Snapshot.AuditLog.Select(a => a.Action).ToArray();
        Assert.Equal([AuditAction.Submitted, AuditAction.StepDone, AuditAction.StepDone, AuditAction.Succeeded], actions);
        var firstStep = state.Snapshot.AuditLog[1];
        Assert.Equal(1UL, firstStep.RangeId);
        Assert.Equal(new RangeEpoch { Version = 2, ConfVer = 1 }, firstStep.EpochBefore);
        Assert.Equal(new RangeEpoch { Version = 2, ConfVer = 3 }, firstStep.EpochAfter);

        // Finished: nothing more changes, whatever is expected.
        Refused(state, Update("op", OperationState.Succeeded, 2, OperationState.Running, 2), PlacementErrorCode.PlacementErrorFailedPrecondition, "finished");
    }

    [Fact]
    public void An_operation_cannot_succeed_while_a_step_is_not_done()
    {
        var state = SmallCluster();
        var steps = new[] { Step(0, 1), Step(1, 2) };
        Applied(state, Submit("op", Move(), steps));
        Applied(state, Update("op", OperationState.Pending, 0, OperationState.Running, 0));
        Refused(state, Update("op", OperationState.Running, 0, OperationState.Succeeded, 2, T0 + 5, Done(steps[0])), PlacementErrorCode.PlacementErrorFailedPrecondition, "step 1");
        var skipped = steps[1].Clone();
        skipped.State = StepState.Skipped;
        Applied(state, Update("op", OperationState.Running, 0, OperationState.Succeeded, 2, T0 + 5, Done(steps[0]), skipped));
    }

    [Fact]
    public void Illegal_state_changes_are_refused_and_failure_needs_a_reason()
    {
        var state = SmallCluster();
        Applied(state, Submit("op", Move()));
        Refused(state, Update("op", OperationState.Pending, 0, OperationState.Cancelled, 0), PlacementErrorCode.PlacementErrorFailedPrecondition, "CancelOperation");
        Refused(state, Update("op", OperationState.Pending, 0, OperationState.Pending, 0), PlacementErrorCode.PlacementErrorFailedPrecondition);
        Applied(state, Update("op", OperationState.Pending, 0, OperationState.Running, 0));
        Refused(state, Update("op", OperationState.Running, 0, OperationState.Cancelled, 0), PlacementErrorCode.PlacementErrorFailedPrecondition, "without a cancel request");
        Refused(state, Update("op", OperationState.Running, 0, OperationState.Pending, 0), PlacementErrorCode.PlacementErrorFailedPrecondition);
        Refused(state, Update("op", OperationState.Running, 0, OperationState.Failed, 0), PlacementErrorCode.PlacementErrorInvalidArgument, "failure");
        Refused(state, Update("op", OperationState.Running, 0, OperationState.Running, 5), PlacementErrorCode.PlacementErrorInvalidArgument, "current_step");
        Refused(state, Update("op", OperationState.Running, 0, OperationState.Running, 0, T0, Step(3, 1)), PlacementErrorCode.PlacementErrorInvalidArgument, "step 3");
        Refused(state, Update("nope", OperationState.Running, 0, OperationState.Running, 0), PlacementErrorCode.PlacementErrorNotFound);

        var failed = Update("op", OperationState.Running, 0, OperationState.Failed, 0);
        failed.UpdateOperation.Failure = "no eligible store for range 1";
        var result = Applied(state, failed);
        Assert.Equal("no eligible store for range 1", result.Operation!.Failure);
        Assert.Equal(AuditAction.Failed, state.Snapshot.AuditLog[^1].Action);
        Assert.Contains("no eligible store", state.Snapshot.AuditLog[^1].Outcome, StringComparison.Ordinal);
    }

    [Fact]
    public void Stuck_ranges_are_replaced_by_each_update_and_bounded()
    {
        var state = SmallCluster();
        Applied(state, Submit("op", Move()));
        var stuck = Update("op", OperationState.Pending, 0, OperationState.Running, 0);
        stuck.UpdateOperation.Stuck.Add(new StuckRange { RangeId = 1, Reason = "no eligible store", SinceMs = T0 });
        Assert.Single(Applied(state, stuck).Operation!.Stuck);
        Assert.Empty(Applied(state, Update("op", OperationState.Running, 0, OperationState.Running, 0)).Operation!.Stuck);

        var many = Update("op", OperationState.Running, 0, OperationState.Running, 0);
        many.UpdateOperation.Stuck.AddRange(Enumerable.Range(1, OperationRules.MaxStuckRanges + 1).Select(i => new StuckRange { RangeId = (ulong)i, Reason = "r" }));
        Refused(state, many, PlacementErrorCode.PlacementErrorInvalidArgument, "at most 100");
        many.UpdateOperation.Stuck.RemoveAt(0);
        Assert.Equal(100, Applied(state, many).Operation!.Stuck.Count);
    }

    [Fact]
    public void A_replan_replaces_the_tail_from_the_current_step_and_keeps_the_steps_already_driven()
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        var steps = new[] { Step(0, 1), Step(1, 2), Step(2, 2, to: 5) };
        Applied(state, Submit("op", Move(), steps), records);
        Applied(state, Update("op", OperationState.Pending, 0, OperationState.Running, 1, T0, Done(steps[0])), records);

        var replan = Update("op", OperationState.Running, 1, OperationState.Running, 1);
        replan.UpdateOperation.ReplanFrom = 1;
        replan.UpdateOperation.Replanned = new Plan { Preflight = new Preflight { Safe = true } };
        replan.UpdateOperation.Replanned.Steps.Add(Step(1, 2, version: 3));
        var stale = replan.Clone();
        stale.UpdateOperation.ReplanFrom = 0;
        Refused(state, stale, PlacementErrorCode.PlacementErrorInvalidArgument, "not replanned");
        var result = Applied(state, replan, records);

        var record = result.Operation!;
        Assert.Equal(2, record.Plan.Steps.Count);
        Assert.Equal(StepState.Done, record.Plan.Steps[0].State);
        Assert.Equal(3UL, record.Plan.Steps[1].Epoch.Version);
        Assert.Equal(1U, record.Replans);
        Assert.Empty(record.Plan.Notes);
        // The dropped step's record is deleted: Load sees exactly two steps.
        Assert.Contains(result.Mutations, m => m.Value is null);
        Assert.Equal(record, PlacementState.Load(PlacementTestData.AsRecords(records)).Snapshot.Operations["op"].ToRecord());
        Assert.Equal(AuditAction.Replanned, state.Snapshot.AuditLog[^1].Action);
    }

    // ---- Cancel ----

    [Fact]
    public void Cancelling_a_pending_operation_cancels_it_at_once()
    {
        var state = SmallCluster();
        Applied(state, Submit("op", Move()));
        var result = Applied(state, Cancel("op", "bob", T0 + 7));
        Assert.Equal(OperationState.Cancelled, result.Operation!.State);
        Assert.Equal("bob", result.Operation.CancelledBy);
        Assert.Equal(T0 + 7, result.Operation.FinishedMs);
        Assert.Empty(state.Snapshot.ActiveOperations);
        var audit = state.Snapshot.AuditLog[^1];
        Assert.Equal(AuditAction.Cancelled, audit.Action);
        Assert.Equal("bob", audit.Who);
        Assert.Equal("changed my mind", audit.Reason);
    }

    [Fact]
    public void Cancelling_a_running_operation_requests_it_and_the_executor_records_it_after_the_step()
    {
        var state = SmallCluster();
        var steps = new[] { Step(0, 1), Step(1, 2) };
        Applied(state, Submit("op", Move(), steps));
        Applied(state, Update("op", OperationState.Pending, 0, OperationState.Running, 0));
        var requested = Applied(state, Cancel("op"));
        Assert.Equal(OperationState.Running, requested.Operation!.State);
        Assert.True(requested.Operation.CancelRequested);
        Assert.Equal(AuditAction.CancelRequested, state.Snapshot.AuditLog[^1].Action);
        // A second request is a no-op (not audited twice).
        Kept(state, Cancel("op", "zed"));
        Assert.Equal("bob", state.Snapshot.Operations["op"].Header.CancelledBy);

        var cancelled = Applied(state, Update("op", OperationState.Running, 0, OperationState.Cancelled, 1, T0 + 9, Done(steps[0])));
        Assert.Equal(OperationState.Cancelled, cancelled.Operation!.State);
        Assert.Equal(AuditAction.Cancelled, state.Snapshot.AuditLog[^1].Action);
        Assert.Equal("bob", state.Snapshot.AuditLog[^1].Who);
        Assert.Empty(state.Snapshot.ActiveOperations);
    }

    [Theory]
    [InlineData(OperationState.Succeeded, "SUCCEEDED")]
    [InlineData(OperationState.Failed, "FAILED")]
    [InlineData(OperationState.Cancelled, "CANCELLED")]
    public void Cancelling_a_finished_operation_is_refused_naming_its_final_state(OperationState final, string named)
    {
        var state = SmallCluster();
        var steps = new[] { Step(0, 1) };
        Applied(state, Submit("op", Move(), steps));
        if (final == OperationState.Cancelled)
        {
            Applied(state, Cancel("op"));
        }
        else
        {
            var finish = Update("op", OperationState.Pending, 0, final, 1, T0, Done(steps[0]));
            finish.UpdateOperation.Failure = "snapshot failing";
            Applied(state, finish);
        }

        Refused(state, Cancel("op", "zed"), PlacementErrorCode.PlacementErrorFailedPrecondition, named);
        Refused(state, Cancel("unknown"), PlacementErrorCode.PlacementErrorNotFound, "operation list");
    }

    [Fact]
    public void A_drain_is_cancellable_until_its_store_holds_no_replica()
    {
        var state = SmallCluster();
        Applied(state, Submit("drain-3", Drain(3), [Step(0, 1, from: 3), Step(1, 2, from: 3)]));
        Applied(state, Update("drain-3", OperationState.Pending, 0, OperationState.Running, 0));
        // Both ranges move off store 3 (the control, with range 2 still on it, is the next test).
        Applied(state, PlacementTestData.PutRange(PlacementTestData.Range(1, "", "m", 2, 3, 1, 2, 4)));
        Applied(state, PlacementTestData.PutRange(PlacementTestData.Range(2, "m", "", 2, 3, 1, 2, 4)));
        Refused(state, Cancel("drain-3"), PlacementErrorCode.PlacementErrorFailedPrecondition, "last replica");
    }

    [Fact]
    public void A_drain_whose_store_still_holds_a_replica_can_be_cancelled()
    {
        var state = SmallCluster();
        Applied(state, Submit("drain-3", Drain(3), [Step(0, 1, from: 3), Step(1, 2, from: 3)]));
        Applied(state, Update("drain-3", OperationState.Pending, 0, OperationState.Running, 0));
        Applied(state, PlacementTestData.PutRange(PlacementTestData.Range(1, "", "m", 2, 3, 1, 2, 4)));
        Assert.True(Applied(state, Cancel("drain-3")).Operation!.CancelRequested);
    }
}
