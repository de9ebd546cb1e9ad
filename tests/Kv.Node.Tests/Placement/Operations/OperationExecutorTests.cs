using Kv.Node.Placement;
using Kv.Node.Placement.Operations;
using Kv.Node.Placement.Scheduler;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging.Abstractions;
using static Kv.Node.Tests.Placement.PlacementTestData;

namespace Kv.Node.Tests.Placement.Operations;

/// <summary>
/// The executor over a <see cref="FakePlacementGroup"/> (the real state machine, no Raft) and a
/// scripted RangeAdmin: what it records for each step outcome, the epoch fence's replan, the
/// preflight re-run before a step (with its negative control), and a deposed leader's write.
/// Waits are on the record's state with a deadline; the executor's own timers are short.
/// </summary>
public sealed class OperationExecutorTests
{
    private const long T0 = 1_700_000_000_000;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly FakePlacementGroup _group = new(1, new PlacementMember { MemberId = 1, Address = "127.0.0.1:7001" });
    private readonly ManualTimeProvider _clock = new(T0);
    private readonly ScriptedSteps _steps = new();

    private sealed class ScriptedSteps : IRangeStepCaller
    {
        private readonly Lock _lock = new();

        private readonly List<ExecuteStepRequest> _calls = [];

        private readonly List<(string Address, long At)> _sent = [];

        /// <summary>Where each call went and when (Stopwatch ticks): a copy.</summary>
        public List<(string Address, long At)> Sent
        {
            get
            {
                lock (_lock)
                {
                    return [.. _sent];
                }
            }
        }

        /// <summary>When set, answers instead of <see cref="Answer"/>, given the address called; may throw (the node did not answer).</summary>
        public Func<int, string, ExecuteStepRequest, ExecuteStepResponse>? AnswerAt { get; set; }

        /// <summary>The calls so far: a copy, safe to enumerate while the executor keeps calling.</summary>
        public List<ExecuteStepRequest> Calls
        {
            get
            {
                lock (_lock)
                {
                    return [.. _calls];
                }
            }
        }

        /// <summary>Answers a call (its index, the request); default: done with the range the step leaves.</summary>
        public Func<int, ExecuteStepRequest, ExecuteStepResponse>? Answer { get; set; }

        public int Count
        {
            get
            {
                lock (_lock)
                {
                    return _calls.Count;
                }
            }
        }

        /// <summary>When set, the first call waits for it before answering.</summary>
        public Task? FirstCallGate { get; set; }

        public async Task<ExecuteStepResponse> ExecuteStepAsync(string address, ExecuteStepRequest request, CancellationToken ct)
        {
            int index;
            lock (_lock)
            {
                index = _calls.Count;
                _calls.Add(request.Clone());
                _sent.Add((address, System.Diagnostics.Stopwatch.GetTimestamp()));
            }

            if (index == 0 && FirstCallGate is { } gate)
            {
                await gate.WaitAsync(ct);
            }

            return AnswerAt is { } at ? at(index, address, request) : Answer!(index, request);
        }
    }

    private (PlacementLeadership Leadership, OperationsFront Front) Start(params RangeDescriptor[] ranges)
    {
        _group.Lead(term: 1);
        Applied(Bootstrap());
        for (ulong id = 1; id <= 5; id++)
        {
            Applied(PutStore(id, $"127.0.0.1:{7000 + id}", $"uuid-{id}"));
        }

        foreach (var range in ranges)
        {
            Applied(PutRange(range));
        }

        var leadership = new PlacementLeadership(_group, _clock, TimeSpan.FromSeconds(10), 3000);
        return (leadership, new OperationsFront(leadership, new SchedulerStatusBoard(1000)));
    }

    private void Applied(PlacementCommand command)
    {
        var result = _group.State.Apply(command);
        Assert.True(result.Code == PlacementErrorCode.PlacementErrorNone, result.ToString());
    }

    private OperationExecutor Executor(PlacementLeadership leadership, bool skipStepPreflight = false, bool skipRangeOwnership = false, TimeSpan? backoff = null, TimeSpan? pruneInterval = null, bool skipAbortOnCancel = false) =>
        new(leadership, _steps, new ExecutorOptions
        {
            MinBackoff = backoff ?? TimeSpan.FromMilliseconds(5),
            MaxBackoff = backoff ?? TimeSpan.FromMilliseconds(50),
            IdleInterval = TimeSpan.FromMilliseconds(20),
            PruneInterval = pruneInterval ?? TimeSpan.FromMinutes(1),
            FinishedRetention = TimeSpan.FromHours(1),
            SkipStepPreflight = skipStepPreflight,
            SkipRangeOwnership = skipRangeOwnership,
            SkipAbortOnCancel = skipAbortOnCancel,
        }, NullLogger.Instance);

    private async Task<OperationRecord> WaitForAsync(string id, Func<OperationRecord, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var record = _group.State.Snapshot.Operations[id].ToRecord();
            if (condition(record))
            {
                return record;
            }

            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}; the operation is {record}");
            await _group.State.NextChange().WaitAsync(TimeSpan.FromMilliseconds(100)).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private static ExecuteStepResponse Done(RangeDescriptor after) => new() { Done = new StepDone(), Range = after, Message = "done" };

    private static RangeDescriptor Moved(RangeDescriptor range, ulong from, ulong to)
    {
        var after = range.Clone();
        after.Epoch.ConfVer += 2;
        var replica = after.Replicas.First(r => r.StoreId == from);
        replica.StoreId = to;
        replica.ReplicaId += 1000;
        return after;
    }

    [Fact]
    public async Task A_step_refused_for_a_changed_epoch_is_replanned_recorded_and_then_completes()
    {
        var range = Range(1, "", "", 2, 1, 1, 2, 3);
        var (leadership, front) = Start(range);
        var (op, _, error) = await front.SubmitAsync("move-1", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = 1, ToStoreId = 4 }, "alice", "rebalance", CancellationToken.None);
        Assert.Null(error);
        Assert.Single(op!.Plan.Steps);

        // The range split after the plan: [""..g) stays range 1 at version 3, [g..) is range 9.
        var left = Range(1, "", "g", 3, 1, 1, 2, 3);
        var right = Range(9, "g", "", 3, 1, 1, 2, 3);
        _steps.Answer = (i, request) => i == 0
            ? new ExecuteStepResponse { EpochChanged = new StepEpochChanged { Current = { left, right } }, Message = "epoch changed" }
            : request.Step.Epoch.Equals(left.Epoch) ? Done(Moved(left, 1, 4))
            : new ExecuteStepResponse { EpochChanged = new StepEpochChanged { Current = { left, right } }, Message = "still stale" };

        using var cts = new CancellationTokenSource();
        var run = Executor(leadership).RunTermAsync(leadership.Current()!, cts.Token);
        var done = await WaitForAsync("move-1", r => r.State == OperationState.Succeeded || r.State == OperationState.Failed, "the move to finish");
        await cts.CancelAsync();
        await run;

        Assert.Equal(OperationState.Succeeded, done.State);
        Assert.Equal(1u, done.Replans);
        Assert.Equal(StepState.Superseded, done.Plan.Steps[0].State);
        Assert.Equal(StepState.Done, done.Plan.Steps[1].State);
        Assert.Equal(left.Epoch, done.Plan.Steps[1].Epoch); // the fresh step carries the epoch the range has now
        Assert.Equal(2, _steps.Count);
        Assert.Contains(_group.State.Snapshot.AuditLog, a => a.OperationId == "move-1" && a.Action == AuditAction.Replanned);
        // The directory learned the range's own word (the split halves, then the move).
        Assert.True(_group.State.Snapshot.RangesById.ContainsKey(9));
        Assert.DoesNotContain(_group.State.Snapshot.RangesById[1].Replicas, r => r.StoreId == 1);
    }

    /// <summary>
    /// Five voters; removing one is safe while all five are up (tolerance 2 -> 1). Store 4 then goes
    /// down: the same removal would leave a range that cannot survive one more failure, so the
    /// executor must not run it, and says so. The negative control skips the re-check and the
    /// step is sent to the range: the test tells the two apart.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_removal_that_became_unsafe_after_submit_is_held_with_a_preflight_reason(bool brokenSkipsPreflight)
    {
        var range = Range(1, "", "", 2, 1, 1, 2, 3, 4, 5);
        var (leadership, front) = Start(range);
        var session = leadership.Current()!;
        var (_, _, error) = await front.SubmitAsync("remove-5", new OperationSpec { Kind = OperationKind.RemoveReplica, RangeId = 1, StoreId = 5 }, "alice", "shrink", CancellationToken.None);
        Assert.Null(error);

        // Store 4 stops heartbeating; the others go on.
        _clock.Advance(11_000);
        foreach (ulong id in new ulong[] { 1, 2, 3, 5 })
        {
            session.Liveness.RecordHeartbeat(id, null, _clock.NowMs);
        }

        var after = range.Clone();
        after.Replicas.Remove(after.Replicas.First(r => r.StoreId == 5));
        after.Epoch.ConfVer++;
        _steps.Answer = (_, _) => Done(after);
        using var cts = new CancellationTokenSource();
        var run = Executor(leadership, skipStepPreflight: brokenSkipsPreflight).RunTermAsync(session, cts.Token);
        var seen = await WaitForAsync("remove-5", r => r.Stuck.Count > 0 || r.State == OperationState.Succeeded, "the removal to be held or done");
        await cts.CancelAsync();
        await run;

        if (brokenSkipsPreflight)
        {
            // The broken variant removes the voter: exactly what the check exists to prevent.
            Assert.True(_steps.Count > 0);
            Assert.Equal(OperationState.Succeeded, seen.State);
            return;
        }

        Assert.Equal(0, _steps.Count);
        Assert.Equal(OperationState.Running, seen.State);
        var stuck = Assert.Single(seen.Stuck);
        Assert.Equal(1ul, stuck.RangeId);
        Assert.StartsWith("preflight refusal", stuck.Reason, StringComparison.Ordinal);
        Assert.Equal(_clock.NowMs, stuck.SinceMs);
    }

    [Fact]
    public async Task A_cancel_takes_effect_between_steps_and_a_deposed_leaders_late_update_applies_nothing()
    {
        var range1 = Range(1, "", "m", 2, 1, 1, 2, 3);
        var range2 = Range(2, "m", "", 2, 1, 1, 2, 3);
        var (leadership, front) = Start(range1, range2);
        var (op, _, error) = await front.SubmitAsync("drain-1", new OperationSpec { Kind = OperationKind.DrainStore, StoreId = 1 }, "alice", "decommission", CancellationToken.None);
        Assert.Null(error);
        Assert.Equal(2, op!.Plan.Steps.Count);
        Assert.Equal(StoreAdminState.Draining, _group.State.Snapshot.StoreAdminState(1));

        // The first step's answer asks for the cancel before it answers: the step still finishes.
        var gate = new TaskCompletionSource();
        _steps.Answer = (i, request) =>
        {
            if (i == 0)
            {
                front.CancelAsync("drain-1", "bob", "changed my mind", CancellationToken.None).GetAwaiter().GetResult();
            }

            var d = _group.State.Snapshot.RangesById[request.Step.RangeId];
            return Done(Moved(d, request.Step.FromStoreId, request.Step.ToStoreId));
        };
        using var cts = new CancellationTokenSource();
        var run = Executor(leadership).RunTermAsync(leadership.Current()!, cts.Token);
        var cancelled = await WaitForAsync("drain-1", r => r.State is OperationState.Cancelled or OperationState.Succeeded or OperationState.Failed, "the drain to end");
        await cts.CancelAsync();
        await run;

        Assert.Equal(OperationState.Cancelled, cancelled.State);
        Assert.Equal(1, _steps.Count);
        Assert.Equal(StepState.Done, cancelled.Plan.Steps[0].State);
        Assert.Equal(StepState.Pending, cancelled.Plan.Steps[1].State);
        Assert.Equal(StoreAdminState.Active, _group.State.Snapshot.StoreAdminState(1));
        // The store keeps what was not moved.
        Assert.Contains(_group.State.Snapshot.RangesById[2].Replicas, r => r.StoreId == 1);

        // A deposed leader's late write, expecting what it read before: refused, nothing changes.
        var late = _group.State.Apply(new PlacementCommand
        {
            UpdateOperation = new UpdateOperationCommand
            {
                Id = "drain-1", ExpectedState = OperationState.Running, ExpectedStep = 1, ExpectedRevision = op.Revision + 1,
                State = OperationState.Succeeded, CurrentStep = 2, AtMs = T0, Who = "executor",
            },
        });
        Assert.Equal(PlacementErrorCode.PlacementErrorConflict, late.Code);
        Assert.Equal(OperationState.Cancelled, _group.State.Snapshot.Operations["drain-1"].State);
    }

    /// <summary>
    /// A move whose learner cannot catch up (its store is down: every attempt answers transient) is
    /// cancelled: the executor stops retrying, asks the range to undo the step (abort), and only
    /// then records CANCELLED with the step SKIPPED, so no learner is left behind. The negative
    /// control cancels without the undo: the check that the range was asked to abort catches it.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_cancel_during_a_step_that_keeps_failing_undoes_the_step_before_it_ends(bool brokenSkipsAbort)
    {
        var range = Range(1, "", "", 2, 1, 1, 2, 3);
        var (leadership, front) = Start(range);
        Assert.Null((await front.SubmitAsync("move", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = 1, ToStoreId = 4 }, "alice", "rebalance", CancellationToken.None)).Error);

        int cancelledAtCall = -1;
        _steps.Answer = (i, request) =>
        {
            if (request.Abort)
            {
                return Done(_group.State.Snapshot.RangesById[1]);
            }

            if (i == 2)
            {
                Assert.Null(front.CancelAsync("move", "bob", "store 4 is down", CancellationToken.None).GetAwaiter().GetResult().Error);
                cancelledAtCall = i;
            }

            return new ExecuteStepResponse
            {
                Transient = new StepTransient { Kind = StepTransientKind.CatchingUp, StoreId = 4, ReplicaId = 99, MatchIndex = 0, LastIndex = 10 },
                Message = "the learner on store 4 is at index 0 of 10",
            };
        };
        using var cts = new CancellationTokenSource();
        var run = Executor(leadership, skipAbortOnCancel: brokenSkipsAbort).RunTermAsync(leadership.Current()!, cts.Token);
        var ended = await WaitForAsync("move", r => r.State is OperationState.Cancelled or OperationState.Succeeded or OperationState.Failed, "the move to end");
        await cts.CancelAsync();
        await run;

        Assert.Equal(OperationState.Cancelled, ended.State);
        Assert.Equal(2, cancelledAtCall);
        var calls = _steps.Calls.ToList();
        Assert.All(calls.Take(3), c => Assert.False(c.Abort));
        if (brokenSkipsAbort)
        {
            Assert.DoesNotContain(calls, c => c.Abort);
            return;
        }

        // Exactly one more call after the cancel: the abort of the running step, on its range.
        Assert.Equal(4, calls.Count);
        Assert.True(calls[3].Abort);
        Assert.Equal(0u, calls[3].Step.Index);
        Assert.Equal(StepState.Skipped, ended.Plan.Steps[0].State);
        Assert.Contains("cancelled while this step ran", ended.Plan.Steps[0].Error, StringComparison.Ordinal);
    }

    /// <summary>
    /// Two operations on one range: the later one waits (stuck, "range mid-change", naming the
    /// first) until the first has finished, and its step is sent only then. The negative control
    /// lets both work at once: the later step is sent while the first is still in flight.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_second_operation_on_a_range_waits_for_the_first(bool brokenIgnoresOwnership)
    {
        var range = Range(1, "", "", 2, 1, 1, 2, 3);
        var (leadership, front) = Start(range);
        Assert.Null((await front.SubmitAsync("a-move", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = 1, ToStoreId = 4 }, "alice", "first", CancellationToken.None)).Error);
        _clock.Advance(1);
        Assert.Null((await front.SubmitAsync("b-move", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = 2, ToStoreId = 5 }, "bob", "second", CancellationToken.None)).Error);

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _steps.FirstCallGate = release.Task;
        _steps.Answer = (_, request) =>
        {
            var d = _group.State.Snapshot.RangesById[1];
            return d.Replicas.Any(r => r.StoreId == request.Step.FromStoreId)
                ? Done(Moved(d, request.Step.FromStoreId, request.Step.ToStoreId))
                : new ExecuteStepResponse { EpochChanged = new StepEpochChanged { Current = { d } }, Message = "moved" };
        };
        using var cts = new CancellationTokenSource();
        var run = Executor(leadership, skipRangeOwnership: brokenIgnoresOwnership).RunTermAsync(leadership.Current()!, cts.Token);
        try
        {
            if (brokenIgnoresOwnership)
            {
                // Both steps are in flight at once on range 1: what the rule exists to prevent.
                await WaitForAsync("b-move", _ => _steps.Count >= 2, "the second operation's step to be sent");
                Assert.Contains(_steps.Calls, c => c.OperationId == "b-move");
                return;
            }

            // The first operation's step is in flight (held), the second has said why it waits.
            var waiting = await WaitForAsync("b-move", r => r.Stuck.Count > 0 && _steps.Count >= 1, "the second operation to wait while the first's step is in flight");
            Assert.Contains("a-move", waiting.Stuck[0].Reason, StringComparison.Ordinal);
            Assert.StartsWith("range mid-change", waiting.Stuck[0].Reason, StringComparison.Ordinal);
            Assert.Equal(1, _steps.Count);
            Assert.Equal("a-move", _steps.Calls[0].OperationId);
            release.SetResult();
            await WaitForAsync("b-move", r => r.State == OperationState.Succeeded, "the second operation to finish");
            Assert.Equal(OperationState.Succeeded, _group.State.Snapshot.Operations["a-move"].State);
            Assert.Equal(["a-move", "b-move"], _steps.Calls.Select(c => c.OperationId).Distinct());
        }
        finally
        {
            release.TrySetResult();
            await cts.CancelAsync();
            await run;
        }
    }

    /// <summary>
    /// The move's target store is down: its step answers transient every time. A cancel must stop
    /// the operation promptly, between two retries, not after the backoff (an hour here, so a
    /// loop that waits out its backoff before looking at the cancel fails this test).
    /// </summary>
    [Fact]
    public async Task A_cancel_stops_an_operation_whose_step_keeps_answering_transient_without_waiting_out_the_backoff()
    {
        var range = Range(1, "", "", 2, 1, 1, 2, 3);
        var (leadership, front) = Start(range);
        Assert.Null((await front.SubmitAsync("move-1", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = 1, ToStoreId = 4 }, "alice", "rebalance", CancellationToken.None)).Error);
        // The range never got a learner (store 4 is down): the cancel's undo (abort) finds nothing to undo.
        _steps.Answer = (_, request) => request.Abort
            ? Done(range)
            : new ExecuteStepResponse
            {
                Transient = new StepTransient { Kind = StepTransientKind.Unavailable },
                Message = "store 4 did not answer",
            };

        using var cts = new CancellationTokenSource();
        var run = Executor(leadership, backoff: TimeSpan.FromHours(1)).RunTermAsync(leadership.Current()!, cts.Token);
        try
        {
            var waiting = await WaitForAsync("move-1", r => r.Stuck.Count > 0, "the transient step to be recorded");
            Assert.StartsWith("range unavailable: store 4 did not answer", waiting.Stuck[0].Reason, StringComparison.Ordinal);
            Assert.Equal(StepState.Running, waiting.Plan.Steps[0].State);
            int calls = _steps.Count;

            Assert.Null((await front.CancelAsync("move-1", "bob", "store 4 is gone", CancellationToken.None)).Error);
            var cancelled = await WaitForAsync("move-1", r => r.State != OperationState.Running, "the cancel to take effect");
            Assert.Equal(OperationState.Cancelled, cancelled.State);
            Assert.Equal("bob", cancelled.CancelledBy);
            // Stopped between retries: no further attempt of the move was sent after the cancel, only the undo that confirms nothing is left.
            Assert.Equal(calls, _steps.Calls.Count(c => !c.Abort));
            Assert.True(_steps.Calls[^1].Abort);
            Assert.Equal(StepState.Skipped, cancelled.Plan.Steps[0].State);
        }
        finally
        {
            await cts.CancelAsync();
            await run;
        }
    }

    /// <summary>
    /// The range's leader node is killed: its followers keep naming it until they elect another.
    /// The executor must not follow that stale hint in a tight loop (the bug: a follower naming an
    /// address that had failed was asked again at once, thousands of times a second, for as long
    /// as it stayed behind); it backs off after every such answer, says why in the record, and goes
    /// on once a node answers. Control: the same answers with the leader elected at once succeed
    /// without a stuck reason.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_follower_naming_a_dead_leader_is_asked_again_only_after_a_backoff(bool electionTakesAWhile)
    {
        var range = Range(1, "", "", 2, 1, 1, 2, 3);
        var (leadership, front) = Start(range);
        Assert.Null((await front.SubmitAsync("move-1", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = 1, ToStoreId = 4 }, "alice", "rebalance", CancellationToken.None)).Error);
        var elected = new TaskCompletionSource();
        if (!electionTakesAWhile)
        {
            elected.SetResult();
        }

        _steps.AnswerAt = (_, address, _) => address switch
        {
            "127.0.0.1:7002" => throw new IOException("connection refused (node 2 was killed)"),
            "127.0.0.1:7003" when elected.Task.IsCompleted => Done(Moved(range, 1, 4)),
            _ => new ExecuteStepResponse
            {
                NotLeader = new StepNotLeader { Leader = new ReplicaDescriptor { ReplicaId = 2, StoreId = 2 }, LeaderAddress = "127.0.0.1:7002" },
                Message = "this store does not lead range 1; its leader is replica 2 on store 2",
            },
        };

        var backoff = TimeSpan.FromMilliseconds(100);
        using var cts = new CancellationTokenSource();
        var run = Executor(leadership, backoff: backoff).RunTermAsync(leadership.Current()!, cts.Token);
        try
        {
            if (electionTakesAWhile)
            {
                var stuck = await WaitForAsync("move-1", r => r.Stuck.Any(s => s.Reason.Contains("names the node at 127.0.0.1:7002", StringComparison.Ordinal)), "the stale hint to be reported");
                Assert.StartsWith(StuckReasons.Unavailable, stuck.Stuck[0].Reason, StringComparison.Ordinal);
                await WaitForAsync("move-1", _ => _steps.Count >= 8, "several attempts");
                elected.SetResult();
            }

            var done = await WaitForAsync("move-1", r => r.State != OperationState.Running && r.State != OperationState.Pending, "the move to end");
            Assert.Equal(OperationState.Succeeded, done.State);
            var sent = _steps.Sent;
            if (!electionTakesAWhile)
            {
                Assert.Empty(done.Stuck);
            }

            // A stale NotLeader answer is followed at most by one call to the node it names (which
            // fails): never by another call to the followers sooner than the backoff (Task.Delay
            // never ends early, so this holds under load).
            for (int i = 0; i < sent.Count - 1; i++)
            {
                if (sent[i].Address != "127.0.0.1:7002" && sent[i + 1].Address != "127.0.0.1:7002")
                {
                    var gap = System.Diagnostics.Stopwatch.GetElapsedTime(sent[i].At, sent[i + 1].At);
                    Assert.True(gap >= backoff * 0.9, $"call {i + 1} to {sent[i + 1].Address} came {gap.TotalMilliseconds:0.#} ms after a stale NotLeader from {sent[i].Address}; calls: {string.Join(", ", sent.Select(s => s.Address))}");
                }
            }
        }
        finally
        {
            await cts.CancelAsync();
            await run;
        }
    }

    /// <summary>Replicas that name each other as leader (leadership moving) are followed a few times in a row, then backed off from with a reason.</summary>
    [Fact]
    public async Task Replicas_naming_each_other_are_followed_a_bounded_number_of_times_before_a_backoff()
    {
        var range = Range(1, "", "", 2, 1, 1, 2, 3);
        var (leadership, front) = Start(range);
        Assert.Null((await front.SubmitAsync("move-1", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = 1, ToStoreId = 4 }, "alice", "rebalance", CancellationToken.None)).Error);
        _steps.AnswerAt = (_, address, _) => new ExecuteStepResponse
        {
            NotLeader = address == "127.0.0.1:7001"
                ? new StepNotLeader { Leader = new ReplicaDescriptor { ReplicaId = 3, StoreId = 3 }, LeaderAddress = "127.0.0.1:7003" }
                : new StepNotLeader { Leader = new ReplicaDescriptor { ReplicaId = 1, StoreId = 1 }, LeaderAddress = "127.0.0.1:7001" },
            Message = "not the leader",
        };

        using var cts = new CancellationTokenSource();
        var run = Executor(leadership, backoff: TimeSpan.FromHours(1)).RunTermAsync(leadership.Current()!, cts.Token);
        try
        {
            var stuck = await WaitForAsync("move-1", r => r.Stuck.Count > 0, "the redirects to be reported");
            Assert.Contains("named another node as the leader of range 1", stuck.Stuck[0].Reason, StringComparison.Ordinal);
            // The first call, then the MaxRedirects hints followed at once; the next redirect waits out the hour-long backoff.
            Assert.Equal(1 + 3, _steps.Count);
        }
        finally
        {
            await cts.CancelAsync();
            await run;
        }
    }

    /// <summary>
    /// A learner whose catch-up answers stay at one index is reported "snapshot failing" after
    /// SnapshotFailingAfter answers; while its index moves it is "in progress". Control: the
    /// moving learner never gets the failing reason.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_learner_that_stops_catching_up_is_reported_snapshot_failing(bool stalled)
    {
        var range = Range(1, "", "", 2, 1, 1, 2, 3);
        var (leadership, front) = Start(range);
        Assert.Null((await front.SubmitAsync("move-1", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = 1, ToStoreId = 4 }, "alice", "rebalance", CancellationToken.None)).Error);
        _steps.Answer = (i, _) => new ExecuteStepResponse
        {
            Transient = new StepTransient { Kind = StepTransientKind.CatchingUp, StoreId = 4, ReplicaId = 77, MatchIndex = stalled ? 10 : 10 + (ulong)i, LastIndex = 500 },
            Message = "catching up",
        };

        using var cts = new CancellationTokenSource();
        var run = Executor(leadership).RunTermAsync(leadership.Current()!, cts.Token);
        try
        {
            if (stalled)
            {
                var failing = await WaitForAsync("move-1", r => r.Stuck.Count > 0 && r.Stuck[0].Reason.StartsWith(StuckReasons.SnapshotFailing, StringComparison.Ordinal), "the snapshot to be reported failing");
                Assert.Contains("store 4 has stayed at index 10 of 500", failing.Stuck[0].Reason, StringComparison.Ordinal);
                Assert.True(_steps.Count > 3, $"reported failing after {_steps.Count} answers");
            }
            else
            {
                await WaitForAsync("move-1", _ => _steps.Count >= 8, "several catch-up answers");
                var record = _group.State.Snapshot.Operations["move-1"].ToRecord();
                Assert.StartsWith(StuckReasons.SnapshotInProgress, Assert.Single(record.Stuck).Reason, StringComparison.Ordinal);
            }
        }
        finally
        {
            await cts.CancelAsync();
            await run;
        }
    }

    /// <summary>The leader prunes finished operations past the retention by itself; a running one stays.</summary>
    [Fact]
    public async Task The_leader_prunes_finished_operations_past_the_retention_and_keeps_running_ones()
    {
        var range1 = Range(1, "", "m", 2, 1, 1, 2, 3);
        var range2 = Range(2, "m", "", 2, 1, 1, 2, 3);
        var (leadership, front) = Start(range1, range2);
        Assert.Null((await front.SubmitAsync("done-move", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = 1, ToStoreId = 4 }, "alice", "rebalance", CancellationToken.None)).Error);
        Assert.Null((await front.SubmitAsync("stuck-move", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 2, FromStoreId = 1, ToStoreId = 5 }, "alice", "rebalance", CancellationToken.None)).Error);
        _steps.Answer = (_, request) => request.OperationId == "done-move"
            ? Done(Moved(_group.State.Snapshot.RangesById[1], 1, 4))
            : new ExecuteStepResponse { Transient = new StepTransient { Kind = StepTransientKind.Unavailable }, Message = "store 5 is down" };

        using var cts = new CancellationTokenSource();
        var run = Executor(leadership, pruneInterval: TimeSpan.FromMilliseconds(10)).RunTermAsync(leadership.Current()!, cts.Token);
        try
        {
            await WaitForAsync("done-move", r => r.State == OperationState.Succeeded, "the first move to finish");
            Assert.True(_group.State.Snapshot.Operations.ContainsKey("done-move")); // within the retention: kept

            _clock.Advance((long)TimeSpan.FromHours(2).TotalMilliseconds);
            var deadline = DateTime.UtcNow + Patience;
            while (_group.State.Snapshot.Operations.ContainsKey("done-move"))
            {
                Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the finished operation to be pruned");
                await _group.State.NextChange().WaitAsync(TimeSpan.FromMilliseconds(100)).ContinueWith(_ => { }, TaskScheduler.Default);
            }

            Assert.Equal(OperationState.Running, _group.State.Snapshot.Operations["stuck-move"].State);
            Assert.Contains(_group.State.Snapshot.AuditLog, a => a.Action == AuditAction.Pruned && a.What.Contains("done-move", StringComparison.Ordinal));
        }
        finally
        {
            await cts.CancelAsync();
            await run;
        }
    }
}
