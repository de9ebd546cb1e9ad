using System.Collections.Concurrent;
using Kv.Node.Placement.Operations.Planning;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Placement.Operations;

/// <summary>
/// The placement leader's operation executor (shared/DESIGN.md section 8): drives every Pending
/// and Running operation step by step through RangeAdmin.ExecuteStep on the range leader's node.
/// Runs for one leader term at a time (<see cref="RunTermAsync"/>); a new leader resumes every
/// active operation where its record stands.
/// <para>Contract:</para>
/// <list type="number">
/// <item>The record is the only truth: every decision starts from the applied state (after a read
/// barrier in this term), never from what this loop remembers. A step already done is answered
/// done by the range's StepFence, so driving a step again after a failover is safe.</item>
/// <item>Every change is an UpdateOperationCommand conditional on the state, step and revision the
/// executor read; a CONFLICT means someone else (a cancel, a newer leader) moved the record: re-read
/// and continue from there. A deposed leader's late write therefore applies nothing.</item>
/// <item>Steps run in plan order, one at a time per operation, and one operation at a time per
/// range (a per-range lock held while a step runs).</item>
/// <item>A cancel request takes effect between attempts: a step that was running is undone on its
/// range first (a learner it added is removed; a move in its joint configuration is finished), so
/// a cancelled operation leaves no half-done range behind, and a step that keeps failing does not
/// hold the cancel up: a cancel ends the backoff between attempts at once.</item>
/// <item>Before a step that could lower a range's failure tolerance (removing or demoting a voter)
/// the preflight is re-run against the current view; an unsafe step is not run (the range is
/// recorded stuck with the reason, and checked again later) unless the operation was forced with a
/// reason, which was audited when it was submitted.</item>
/// <item>A step whose range's epoch changed is answered epoch_changed by the range: the plan's rest
/// is recomputed (<see cref="Planner.Replan"/>) and the replan recorded.</item>
/// <item>Time comes only from the injected <see cref="TimeProvider"/>; waits are timers on it.</item>
/// </list>
/// </summary>
internal sealed partial class OperationExecutor
{
    private readonly PlacementLeadership _leadership;
    private readonly IRangeStepCaller _caller;
    private readonly ExecutorOptions _options;
    private readonly ILogger _logger;
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public OperationExecutor(PlacementLeadership leadership, IRangeStepCaller caller, ExecutorOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(leadership);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _leadership = leadership;
        _caller = caller;
        _options = options;
        _logger = logger;
    }

    private IPlacementGroup Group => _leadership.Group;

    private TimeProvider Time => _leadership.Time;

    private long NowMs => Time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Makes the loop look at the operations now (a submit or cancel just happened).</summary>
    public void Wake() => Interlocked.Exchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>
    /// Drives operations while this node leads in <paramref name="session"/>'s term; returns when
    /// leadership is lost or <paramref name="ct"/> fires (the caller cancels it at term end).
    /// </summary>
    public async Task RunTermAsync(LeaderSession session, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(session);
        var drivers = new Dictionary<string, Task>(StringComparer.Ordinal);
        var term = new TermState(session);
        long lastPruneMs = long.MinValue / 2;
        LogTermStarted(_logger, session.Term);
        try
        {
            while (!ct.IsCancellationRequested && Group.LeaderTerm == session.Term)
            {
                var wake = Volatile.Read(ref _wake).Task;
                var changed = Group.State.NextChange();
                try
                {
                    using var barrier = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    barrier.CancelAfter(_options.ProposalTimeout);
                    // Everything committed before this term is applied before any operation is read.
                    await Group.ReadBarrierAsync(barrier.Token).ConfigureAwait(false);
                }
                catch (PlacementNotLeaderException)
                {
                    return;
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    continue;
                }

                foreach (var done in drivers.Where(d => d.Value.IsCompleted).Select(d => d.Key).ToList())
                {
                    drivers.Remove(done);
                }

                foreach (var id in Group.State.Snapshot.ActiveOperations.Keys)
                {
                    if (!drivers.ContainsKey(id))
                    {
                        drivers[id] = Task.Run(() => DriveGuardedAsync(term, id, ct), CancellationToken.None);
                    }
                }

                if (NowMs - lastPruneMs >= (long)_options.PruneInterval.TotalMilliseconds)
                {
                    lastPruneMs = NowMs;
                    await PruneAsync(ct).ConfigureAwait(false);
                }

                await Task.WhenAny(wake, changed, Task.Delay(_options.IdleInterval, Time, ct)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            await Task.WhenAll(drivers.Values).ConfigureAwait(false);
            LogTermEnded(_logger, session.Term);
        }
    }

    /// <summary>
    /// Proposes a prune of finished operations when one is due (checked on the applied state first,
    /// so an idle cluster proposes nothing). A refusal or a lost proposal is tried again next time.
    /// </summary>
    private async Task PruneAsync(CancellationToken ct)
    {
        long now = NowMs;
        long retention = (long)_options.FinishedRetention.TotalMilliseconds;
        var ops = Group.State.Snapshot.Ops;
        if (OperationRules.PruneCandidates(ops, now, retention, _options.MaxFinishedOperations).Count == 0 && OperationRules.PruneSplits(ops, now, retention).Count == 0)
        {
            return;
        }

        try
        {
            var result = await ProposeAsync(new PlacementCommand
            {
                PruneOperations = new PruneOperationsCommand { AtMs = now, RetentionMs = retention, KeepFinished = (uint)_options.MaxFinishedOperations, Who = "executor" },
            }, ct).ConfigureAwait(false);
            if (result.Code == PlacementErrorCode.PlacementErrorNone)
            {
                LogPruned(_logger, result.Message);
            }
            else
            {
                LogProposalRefused(_logger, "(prune)", result.Message);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // No quorum in time: the next round tries again.
        }
    }

    private async Task DriveGuardedAsync(TermState term, string id, CancellationToken ct)
    {
        try
        {
            await DriveAsync(term, id, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (PlacementNotLeaderException)
        {
            // The term ended: the next leader resumes the operation from its record.
        }
#pragma warning disable CA1031 // one operation's unexpected failure must not stop the others; the loop starts it again
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogDriverFailed(_logger, id, e);
        }
    }

    /// <summary>Drives one operation until it finishes, leadership is lost, or it must wait for the world (then returns and is started again later).</summary>
    private async Task DriveAsync(TermState term, string id, CancellationToken ct)
    {
        var backoff = new Backoff(_options.MinBackoff, _options.MaxBackoff);
        while (!ct.IsCancellationRequested && Group.LeaderTerm == term.Session.Term)
        {
            if (!Group.State.Snapshot.Operations.TryGetValue(id, out var entry) || entry.IsFinal)
            {
                return;
            }

            var h = entry.Header;
            if (h.State == OperationState.Pending)
            {
                await UpdateAsync(entry, c =>
                {
                    c.State = OperationState.Running;
                    c.CurrentStep = (uint)Math.Max(0, FirstOpen(entry));
                    if (c.CurrentStep > entry.Steps.Count)
                    {
                        c.CurrentStep = (uint)entry.Steps.Count;
                    }
                }, ct).ConfigureAwait(false);
                continue;
            }

            if (h.CancelRequested)
            {
                // A step that was running may have left the range half-changed (a learner added,
                // not promoted): undo it first, so a cancelled operation leaves every range as a
                // finished step would or as the step found it.
                int running = _options.SkipAbortOnCancel ? -1 : RunningStep(entry);
                if (running >= 0 && !await AbortStepAsync(term, entry, running, ct).ConfigureAwait(false))
                {
                    await Task.Delay(backoff.Next(), Time, ct).ConfigureAwait(false);
                    continue;
                }

                await UpdateAsync(entry, c =>
                {
                    c.State = OperationState.Cancelled;
                    c.CurrentStep = h.CurrentStep;
                    if (running >= 0)
                    {
                        var undone = entry.Steps[running].Clone();
                        undone.State = StepState.Skipped;
                        undone.FinishedMs = NowMs;
                        undone.Error = "the operation was cancelled while this step ran; what it had changed was undone (a learner it added removed) or, past its joint configuration, finished";
                        c.Steps.Add(undone);
                    }
                }, ct).ConfigureAwait(false);
                continue;
            }

            int k = FirstOpen(entry);
            bool progressed = k < 0
                ? await FinishAsync(term, entry, ct).ConfigureAwait(false)
                : await RunStepAsync(term, entry, k, ct).ConfigureAwait(false);
            if (progressed)
            {
                backoff.Reset();
            }
            else
            {
                await BackOffAsync(id, backoff.Next(), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Waits <paramref name="delay"/> before the next attempt, or less: a cancel request (or the
    /// operation ending) ends the wait at once, so an operation whose step keeps answering
    /// transient (its target store is down) stops promptly instead of after the longest backoff.
    /// Other changes of the placement state do not end it (they are frequent: heartbeats).
    /// </summary>
    private async Task BackOffAsync(string id, TimeSpan delay, CancellationToken ct)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var elapsed = Task.Delay(delay, Time, wait.Token);
        // A cancel already requested is being handled (a step finishing or rolling back): it does not shorten the wait again.
        bool cancelBefore = Group.State.Snapshot.Operations.TryGetValue(id, out var before) && before.Header.CancelRequested;
        try
        {
            while (!elapsed.IsCompleted)
            {
                var changed = Group.State.NextChange();
                if (!Group.State.Snapshot.Operations.TryGetValue(id, out var entry) || entry.IsFinal || (entry.Header.CancelRequested && !cancelBefore))
                {
                    return;
                }

                await Task.WhenAny(elapsed, changed).ConfigureAwait(false);
            }

            await elapsed.ConfigureAwait(false);
        }
        finally
        {
            await wait.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Every step has ended: a drain or replacement checks its store is empty (else plans the rest), then the operation succeeds.</summary>
    private async Task<bool> FinishAsync(TermState term, OperationEntry entry, CancellationToken ct)
    {
        var h = entry.Header;
        var snapshot = Group.State.Snapshot;
        bool emptiesStore = h.Spec.Kind is OperationKind.DrainStore or OperationKind.ReplaceStore;
        if (emptiesStore && OperationRules.ReplicasOn(snapshot, h.Spec.StoreId, 1).Count > 0)
        {
            // Replicas arrived after the plan (a range split, a replica the directory had not heard of): plan them too.
            return await ReplanAsync(term, entry, entry.Steps.Count, ct).ConfigureAwait(false);
        }

        if (h.Spec.Kind == OperationKind.DrainStore && snapshot.StoreAdminState(h.Spec.StoreId) == StoreAdminState.Draining)
        {
            var result = await ProposeAsync(new PlacementCommand
            {
                SetStoreAdminState = new SetStoreAdminStateCommand
                {
                    StoreId = h.Spec.StoreId, State = StoreAdminState.Drained, Who = "executor", Reason = $"drain {h.Id}: its last replica left", AtMs = NowMs,
                },
            }, ct).ConfigureAwait(false);
            if (result.Code != PlacementErrorCode.PlacementErrorNone)
            {
                LogProposalRefused(_logger, h.Id, result.Message);
                return false;
            }
        }

        return await UpdateAsync(entry, c =>
        {
            c.State = OperationState.Succeeded;
            c.CurrentStep = (uint)entry.Steps.Count;
            c.Progress = Progress.Compute(entry.ToRecord().Plan, NowMs, h.StartedMs);
        }, ct).ConfigureAwait(false);
    }

    /// <summary>Drives step <paramref name="k"/> until it is done, refused, replanned or must wait; true when the record moved.</summary>
    private async Task<bool> RunStepAsync(TermState term, OperationEntry entry, int k, CancellationToken ct)
    {
        var h = entry.Header;
        var step = entry.Steps[k];
        var snapshot = Group.State.Snapshot;
        long now = NowMs;
        var view = ClusterViews.Build(snapshot, term.Session, now);

        // 0. One operation at a time per range: the one created first goes first (so none waits forever).
        if (!_options.SkipRangeOwnership && BlockedBy(snapshot, entry, step.RangeId) is { } other)
        {
            await RecordStuckAsync(entry, -1, step.RangeId, $"{StuckReasons.MidChange}: operation {other} works on range {step.RangeId} first; this one waits for it", ct).ConfigureAwait(false);
            return false;
        }

        // 1. The preflight again, against the cluster as it is now (a store may have failed since the plan).
        if (!h.Spec.Force && !_options.SkipStepPreflight && StepRisk(step, view) is { } risk)
        {
            await RecordStuckAsync(entry, k, step.RangeId, $"{StuckReasons.PreflightRefusal}: {risk}; the step waits until it is safe (or cancel the operation and resubmit with --force --reason)", ct).ConfigureAwait(false);
            return false;
        }

        // 2. Mark the step running (the record says what is being driven).
        if (step.State != StepState.Running || h.CurrentStep != (uint)k)
        {
            var running = step.Clone();
            running.State = StepState.Running;
            running.StartedMs = running.StartedMs == 0 ? now : running.StartedMs;
            if (!await UpdateAsync(entry, c =>
                {
                    c.State = OperationState.Running;
                    c.CurrentStep = (uint)k;
                    c.Steps.Add(running);
                    c.Stuck.AddRange(h.Stuck.Select(s => s.Clone()));
                }, ct).ConfigureAwait(false))
            {
                return true;
            }

            return true;
        }

        // 3. One attempt at a time, under the range's lock.
        if (await CallRangeAsync(term, entry, k, step, abort: false, ct).ConfigureAwait(false) is not var (response, address))
        {
            return false;
        }

        LogStepOutcome(_logger, h.Id, k, step.RangeId, response.OutcomeCase, response.Message);
        // The range's own word (a learner this step added, a joint configuration, leadership moved
        // off mid-step): the directory learns it whatever the outcome, so a cancel decides from it.
        if (response.OutcomeCase != ExecuteStepResponse.OutcomeOneofCase.Done && response.Range is { } seen && Group.State.Snapshot.WhyStale(seen) is null)
        {
            await ProposeAsync(new PlacementCommand { PutRange = new PutRangeCommand { Range = seen.Clone() } }, ct).ConfigureAwait(false);
        }

        switch (response.OutcomeCase)
        {
            case ExecuteStepResponse.OutcomeOneofCase.Done:
                return await StepDoneAsync(entry, k, response, ct).ConfigureAwait(false);
            case ExecuteStepResponse.OutcomeOneofCase.NotLeader:
                if (term.FollowNotLeader(step.RangeId, address, response.NotLeader.LeaderAddress) is { } notFollowed)
                {
                    await RecordStuckAsync(entry, k, step.RangeId, $"{StuckReasons.Unavailable}: {notFollowed}", ct).ConfigureAwait(false);
                    return false;
                }

                return true;
            case ExecuteStepResponse.OutcomeOneofCase.RangeNotFound:
                term.Avoid(step.RangeId, address);
                return false;
            case ExecuteStepResponse.OutcomeOneofCase.EpochChanged:
                foreach (var current in response.EpochChanged.Current)
                {
                    // The range's own word beats the directory's lagging one (a stale one is a no-op).
                    await ProposeAsync(new PlacementCommand { PutRange = new PutRangeCommand { Range = current.Clone() } }, ct).ConfigureAwait(false);
                }

                return await ReplanAsync(term, Group.State.Snapshot.Operations[entry.Id], k, ct).ConfigureAwait(false);
            case ExecuteStepResponse.OutcomeOneofCase.Refused when response.Refused.Kind == StepRefusalKind.Aborted:
                return await ReplanAsync(term, entry, k, ct).ConfigureAwait(false);
            case ExecuteStepResponse.OutcomeOneofCase.Refused:
                return await FailAsync(entry, k, $"step {k} ({Describe(step)}) was refused by range {step.RangeId}: {response.Message}", ct).ConfigureAwait(false);
            case ExecuteStepResponse.OutcomeOneofCase.Transient:
                var t = response.Transient;
                int stalled = t.Kind == StepTransientKind.CatchingUp ? term.CatchUpStalls(h.Id, k, t.MatchIndex) : 0;
                string reason = StuckReasons.ForTransient(t, response.Message, stalled, _options.SnapshotFailingAfter);
                await RecordStuckAsync(entry, k, step.RangeId, reason, ct).ConfigureAwait(false);
                // A catch-up answer already waited StepWait on the node: ask again at once.
                return t.Kind == StepTransientKind.CatchingUp;
            default:
                return await FailAsync(entry, k, $"step {k}: range {step.RangeId} answered nothing this node understands ({response.Message}); upgrade the nodes", ct).ConfigureAwait(false);
        }
    }

    private async Task<bool> StepDoneAsync(OperationEntry entry, int k, ExecuteStepResponse response, CancellationToken ct)
    {
        // Teach the directory now (the range's next heartbeat would, later): the next step, the
        // drain's "is the store empty" and the scheduler all read it.
        if (response.Range is { } range)
        {
            await ProposeAsync(new PlacementCommand { PutRange = new PutRangeCommand { Range = range.Clone() } }, ct).ConfigureAwait(false);
        }

        if (response.Done.Right is { } right)
        {
            await ProposeAsync(new PlacementCommand { PutRange = new PutRangeCommand { Range = right.Clone() } }, ct).ConfigureAwait(false);
        }

        entry = Group.State.Snapshot.Operations[entry.Id];
        var done = entry.Steps[k].Clone();
        long now = NowMs;
        done.State = StepState.Done;
        done.EpochAfter = response.Range?.Epoch?.Clone();
        done.FinishedMs = now;
        done.Error = string.Empty;
        var record = entry.ToRecord();
        record.Plan.Steps[k] = done;
        return await UpdateAsync(entry, c =>
        {
            c.State = OperationState.Running;
            c.CurrentStep = (uint)Math.Min(k + 1, entry.Steps.Count);
            c.Steps.Add(done);
            c.Progress = Progress.Compute(record.Plan, now, entry.Header.StartedMs);
        }, ct).ConfigureAwait(false);
    }

    /// <summary>Recomputes the plan from step <paramref name="from"/> on against the current view and records it.</summary>
    private async Task<bool> ReplanAsync(TermState term, OperationEntry entry, int from, CancellationToken ct)
    {
        var h = entry.Header;
        var view = ClusterViews.Build(Group.State.Snapshot, term.Session, NowMs);
        var outcome = Planner.Replan(entry.ToRecord(), view, h.Reason);
        bool emptiesStore = h.Spec.Kind is OperationKind.DrainStore or OperationKind.ReplaceStore;
        if (emptiesStore && outcome.Refusal is { Code: RefusalCode.PlacementImpossible or RefusalCode.NotEligible } waiting)
        {
            // No store can take what is left now; a store may come back or be added: wait, saying why.
            var left = OperationRules.ReplicasOn(Group.State.Snapshot, h.Spec.StoreId, 1);
            await RecordStuckAsync(entry, -1, left.Count > 0 ? left[0] : h.Spec.RangeId, $"{StuckReasons.NoEligibleStore}: {waiting.Message}", ct).ConfigureAwait(false);
            return false;
        }

        if (outcome.Plan is null || (outcome.Refusal is not null && outcome.Refusal.Code != RefusalCode.Unsafe))
        {
            return await FailAsync(entry, -1, $"the plan could not be recomputed after range changes: {outcome.Refusal?.Message}", ct).ConfigureAwait(false);
        }

        var replanned = outcome.Plan.Clone();
        var tail = replanned.Steps.Skip(from).ToList();
        replanned.Steps.Clear();
        replanned.Steps.AddRange(tail);
        bool nothingNew = from == entry.Steps.Count && tail.Count == 0;
        if (nothingNew)
        {
            // A drain whose store still holds replicas no store can take now: say which and why.
            string why = outcome.Stuck.Count > 0 ? outcome.Stuck[0].Reason : "waiting for the range directory to show the store empty";
            await RecordStuckAsync(entry, -1, outcome.Stuck.Count > 0 ? outcome.Stuck[0].RangeId : h.Spec.RangeId, why, ct, outcome.Stuck).ConfigureAwait(false);
            return false;
        }

        long now = NowMs;
        return await UpdateAsync(entry, c =>
        {
            c.State = OperationState.Running;
            c.CurrentStep = (uint)from;
            c.Replanned = replanned;
            c.ReplanFrom = (uint)from;
            foreach (var stuck in outcome.Stuck)
            {
                var s = stuck.Clone();
                s.SinceMs = SinceMs(h, s.RangeId, s.Reason, now);
                c.Stuck.Add(s);
            }
        }, ct).ConfigureAwait(false);
    }

    private Task<bool> FailAsync(OperationEntry entry, int k, string failure, CancellationToken ct)
    {
        LogFailed(_logger, entry.Id, failure);
        return UpdateAsync(entry, c =>
        {
            c.State = OperationState.Failed;
            c.Failure = failure;
            c.CurrentStep = entry.Header.CurrentStep;
            if (k >= 0)
            {
                var failed = entry.Steps[k].Clone();
                failed.State = StepState.Failed;
                failed.Error = failure;
                failed.FinishedMs = NowMs;
                c.Steps.Add(failed);
            }
        }, ct);
    }

    /// <summary>Records why the operation cannot progress on a range (since_ms kept while the reason stays), counting an attempt on step k.</summary>
    private async Task RecordStuckAsync(OperationEntry entry, int k, ulong rangeId, string reason, CancellationToken ct, IReadOnlyList<StuckRange>? more = null)
    {
        var h = entry.Header;
        long now = NowMs;
        var stuck = new List<StuckRange>();
        if (rangeId != 0)
        {
            stuck.Add(new StuckRange { RangeId = rangeId, Reason = reason, SinceMs = SinceMs(h, rangeId, reason, now) });
        }

        foreach (var s in more ?? [])
        {
            if (s.RangeId != rangeId && stuck.Count < OperationRules.MaxStuckRanges)
            {
                stuck.Add(new StuckRange { RangeId = s.RangeId, Reason = s.Reason, SinceMs = SinceMs(h, s.RangeId, s.Reason, now) });
            }
        }

        // Unchanged: no proposal (a catch-up answers every few seconds; the record need not churn).
        if (h.Stuck.Count == stuck.Count && h.Stuck.Zip(stuck).All(p => p.First.RangeId == p.Second.RangeId && p.First.Reason == p.Second.Reason))
        {
            return;
        }

        await UpdateAsync(entry, c =>
        {
            c.State = OperationState.Running;
            c.CurrentStep = h.CurrentStep;
            c.Stuck.AddRange(stuck);
            if (k >= 0)
            {
                var attempt = entry.Steps[k].Clone();
                attempt.Attempts++;
                c.Steps.Add(attempt);
            }
        }, ct).ConfigureAwait(false);
    }

    private static long SinceMs(OperationRecord h, ulong rangeId, string reason, long now) =>
        h.Stuck.FirstOrDefault(s => s.RangeId == rangeId && s.Reason == reason) is { } kept ? kept.SinceMs : now;

    /// <summary>
    /// Proposes an update conditional on what was read; true when it applied, false on CONFLICT
    /// (someone moved the record: the caller re-reads). Other refusals are logged and count as no progress.
    /// </summary>
    private async Task<bool> UpdateAsync(OperationEntry entry, Action<UpdateOperationCommand> fill, CancellationToken ct)
    {
        var h = entry.Header;
        var command = new UpdateOperationCommand
        {
            Id = h.Id,
            ExpectedState = h.State,
            ExpectedStep = h.CurrentStep,
            ExpectedRevision = h.Revision,
            AtMs = NowMs,
            Who = "executor",
        };
        fill(command);
        var result = await ProposeAsync(new PlacementCommand { UpdateOperation = command }, ct).ConfigureAwait(false);
        if (result.Code == PlacementErrorCode.PlacementErrorNone)
        {
            return true;
        }

        if (result.Code != PlacementErrorCode.PlacementErrorConflict)
        {
            LogProposalRefused(_logger, h.Id, result.Message);
        }

        return false;
    }

    private async Task<PlacementApplyResult> ProposeAsync(PlacementCommand command, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.ProposalTimeout);
        return await Group.ProposeAsync(command, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Executes (or, with abort, undoes) step k on its range's leader, one call at a time per range.
    /// Null when no node could be asked or one did not answer (recorded as the range being stuck).
    /// </summary>
    private async Task<(ExecuteStepResponse Response, string Address)?> CallRangeAsync(TermState term, OperationEntry entry, int k, PlanStep step, bool abort, CancellationToken ct)
    {
        var rangeLock = term.RangeLocks.GetOrAdd(step.RangeId, _ => new SemaphoreSlim(1, 1));
        await rangeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var address = Address(term, Group.State.Snapshot, step.RangeId, entry.Id);
            if (address.Length == 0)
            {
                await RecordStuckAsync(entry, k, step.RangeId, $"range unavailable: no store of range {step.RangeId} has a known address", ct).ConfigureAwait(false);
                return null;
            }

            try
            {
                using var call = CancellationTokenSource.CreateLinkedTokenSource(ct);
                call.CancelAfter(_options.StepWait + TimeSpan.FromSeconds(10));
                var response = await _caller.ExecuteStepAsync(address, new ExecuteStepRequest
                {
                    OperationId = entry.Id,
                    Step = step,
                    WaitMs = (uint)_options.StepWait.TotalMilliseconds,
                    Abort = abort,
                }, call.Token).ConfigureAwait(false);
                if (response.OutcomeCase != ExecuteStepResponse.OutcomeOneofCase.NotLeader)
                {
                    term.Reached(step.RangeId);
                }

                return (response, address);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                term.Avoid(step.RangeId, address);
                await RecordStuckAsync(entry, k, step.RangeId, $"range unavailable: the node at {address} did not answer ({e.GetType().Name}); trying its other replicas", ct).ConfigureAwait(false);
                return null;
            }
        }
        finally
        {
            rangeLock.Release();
        }
    }

    /// <summary>
    /// Undoes the running step k of a cancelled operation on its range (ExecuteStep with abort).
    /// True once the range answers done (nothing half-done of the step is left); false to try again.
    /// </summary>
    private async Task<bool> AbortStepAsync(TermState term, OperationEntry entry, int k, CancellationToken ct)
    {
        var step = entry.Steps[k];
        if (await CallRangeAsync(term, entry, k, step, abort: true, ct).ConfigureAwait(false) is not var (response, address))
        {
            return false;
        }

        LogStepOutcome(_logger, entry.Id, k, step.RangeId, response.OutcomeCase, "abort: " + response.Message);
        switch (response.OutcomeCase)
        {
            case ExecuteStepResponse.OutcomeOneofCase.Done:
                // As after a step: the directory learns the range now, so whoever reads it next
                // (the cancel's caller, the scheduler) does not see the removed learner.
                if (response.Range is { } range)
                {
                    await ProposeAsync(new PlacementCommand { PutRange = new PutRangeCommand { Range = range.Clone() } }, ct).ConfigureAwait(false);
                }

                return true;
            case ExecuteStepResponse.OutcomeOneofCase.NotLeader:
                // The caller backs off either way; only the next address changes.
                _ = term.FollowNotLeader(step.RangeId, address, response.NotLeader.LeaderAddress);
                return false;
            case ExecuteStepResponse.OutcomeOneofCase.RangeNotFound:
                term.Avoid(step.RangeId, address);
                return false;
            default:
                await RecordStuckAsync(entry, k, step.RangeId, $"cancel: undoing step {k} ({Describe(step)}): {response.Message}", ct).ConfigureAwait(false);
                return false;
        }
    }

    /// <summary>The index of the step marked Running, or -1.</summary>
    internal static int RunningStep(OperationEntry entry)
    {
        for (int i = 0; i < entry.Steps.Count; i++)
        {
            if (entry.Steps[i].State == StepState.Running)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The index of the first step not yet ended (Pending or Running), or -1.</summary>
    internal static int FirstOpen(OperationEntry entry)
    {
        for (int i = (int)Math.Min(entry.Header.CurrentStep, (uint)entry.Steps.Count); i < entry.Steps.Count; i++)
        {
            if (entry.Steps[i].State is StepState.Pending or StepState.Running or StepState.Unspecified)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// The id of an active operation created before <paramref name="entry"/> (by created_ms, then
    /// id) that still works on <paramref name="rangeId"/> (its spec's range, or an unfinished step
    /// on it); null when none does. Earlier operations never wait for later ones, so the earliest
    /// on a range can always proceed.
    /// </summary>
    internal static string? BlockedBy(PlacementSnapshot snapshot, OperationEntry entry, ulong rangeId)
    {
        foreach (var other in snapshot.ActiveOperations.Values)
        {
            if (other.Id == entry.Id || !Before(other.Header, entry.Header))
            {
                continue;
            }

            bool touches = (other.Header.Spec.RangeId == rangeId && other.Header.Spec.Kind is not (OperationKind.DrainStore or OperationKind.ReplaceStore))
                || other.Steps.Any(s => s.RangeId == rangeId && s.State is StepState.Pending or StepState.Running);
            if (touches)
            {
                return other.Id;
            }
        }

        return null;
    }

    private static bool Before(OperationRecord a, OperationRecord b) =>
        a.CreatedMs < b.CreatedMs || (a.CreatedMs == b.CreatedMs && string.CompareOrdinal(a.Id, b.Id) < 0);

    /// <summary>
    /// Null when <paramref name="step"/> keeps its range able to survive one more store failure in
    /// <paramref name="view"/> (or already could not, and does not make it worse); else the risk.
    /// </summary>
    internal static string? StepRisk(PlanStep step, ClusterView view)
    {
        var single = step.Clone();
        single.Index = 0;
        single.State = StepState.Pending;
        var plan = new Plan { Steps = { single } };
        var preflight = PreflightCheck.Compute(plan, view);
        return preflight.Safe ? null : string.Join("; ", preflight.Risks.Select(r => r.Reason));
    }

    /// <summary>Where to send a step for <paramref name="rangeId"/>: the last hint, else the reported leader, else its replicas in turn (skipping ones that failed).</summary>
    private static string Address(TermState term, PlacementSnapshot snapshot, ulong rangeId, string operationId)
    {
        if (term.Hints.TryGetValue(rangeId, out var hint) && hint.Length > 0 && !term.Avoided(rangeId, hint))
        {
            return hint;
        }

        var candidates = new List<string>();
        if (term.Session.RangeLeaders.Get(rangeId) is { } reported && snapshot.Stores.TryGetValue(reported.Leader.StoreId, out var leaderStore))
        {
            candidates.Add(leaderStore.Address);
        }

        if (snapshot.RangesById.TryGetValue(rangeId, out var range))
        {
            foreach (var r in range.Replicas)
            {
                if (snapshot.Stores.TryGetValue(r.StoreId, out var store) && !candidates.Contains(store.Address))
                {
                    candidates.Add(store.Address);
                }
            }
        }

        foreach (var c in candidates)
        {
            if (!term.Avoided(rangeId, c))
            {
                return c;
            }
        }

        // Every one failed once: start over (a node may be back).
        term.ClearAvoided(rangeId);
        return candidates.FirstOrDefault() ?? string.Empty;
    }

    private static string Describe(PlanStep step) => step.Description.Length > 0 ? step.Description : step.Kind.ToString();

    /// <summary>What one term's loop remembers (only hints: the record is the truth).</summary>
    private sealed class TermState(LeaderSession session)
    {
        private readonly ConcurrentDictionary<ulong, HashSet<string>> _avoid = new();

        public LeaderSession Session { get; } = session;

        public ConcurrentDictionary<ulong, SemaphoreSlim> RangeLocks { get; } = new();

        public ConcurrentDictionary<ulong, string> Hints { get; } = new();

        // range -> NotLeader answers followed in a row without reaching a node that answered
        // otherwise; bounds the redirects between replicas that name each other.
        private readonly ConcurrentDictionary<ulong, int> _redirects = new();

        /// <summary>At most this many NotLeader hints are followed at once before backing off.</summary>
        public const int MaxRedirects = 3;

        /// <summary>
        /// Takes a NotLeader answer from <paramref name="asked"/> naming <paramref name="leaderAddress"/>
        /// (empty: no leader known). Null when the hint is worth asking at once; otherwise why not, and
        /// the caller backs off. A follower's word is only a belief: one that names a node which did
        /// not answer (killed, partitioned) or names itself is behind, and following it at once would
        /// spin on the same answer until the range elects a leader and the follower hears of it.
        /// </summary>
        public string? FollowNotLeader(ulong rangeId, string asked, string leaderAddress)
        {
            if (leaderAddress.Length == 0)
            {
                Avoid(rangeId, asked);
                return $"the node at {asked} does not lead range {rangeId} and knows no leader (an election in progress?); trying its other replicas";
            }

            if (leaderAddress == asked)
            {
                Hints.TryRemove(rangeId, out _);
                return $"the node at {asked} names itself the leader of range {rangeId} but is not ready to lead yet; asking again after a backoff";
            }

            if (Avoided(rangeId, leaderAddress))
            {
                // Its belief is stale: ask the range's other replicas, which may know the new leader.
                Avoid(rangeId, asked);
                return $"the node at {asked} names the node at {leaderAddress} as the leader of range {rangeId}, and that node did not answer; " +
                    "waiting for the range to elect a leader its replicas know";
            }

            if (_redirects.AddOrUpdate(rangeId, 1, (_, n) => n + 1) > MaxRedirects)
            {
                _redirects.TryRemove(rangeId, out _);
                Hint(rangeId, leaderAddress);
                return $"{MaxRedirects + 1} nodes in a row named another node as the leader of range {rangeId} (last {asked} named {leaderAddress}); " +
                    "the range's leadership is moving: asking again after a backoff";
            }

            Hint(rangeId, leaderAddress);
            return null;
        }

        /// <summary>A node answered other than NotLeader: the redirect count starts again.</summary>
        public void Reached(ulong rangeId) => _redirects.TryRemove(rangeId, out _);

        private void Hint(ulong rangeId, string address) => Hints[rangeId] = address;

        public void Avoid(ulong rangeId, string address)
        {
            Hints.TryRemove(rangeId, out _);
            var set = _avoid.GetOrAdd(rangeId, _ => []);
            lock (set)
            {
                set.Add(address);
            }
        }

        public bool Avoided(ulong rangeId, string address)
        {
            if (!_avoid.TryGetValue(rangeId, out var set))
            {
                return false;
            }

            lock (set)
            {
                return set.Contains(address);
            }
        }

        public void ClearAvoided(ulong rangeId) => _avoid.TryRemove(rangeId, out _);

        // (operation id, step) -> the learner's match index at the last catching-up answer, and how
        // many answers in a row it has not moved. A hint like the others: a new term counts again.
        private readonly ConcurrentDictionary<(string, int), (ulong Match, int Stalls)> _catchUp = new();

        /// <summary>How many catching-up answers in a row (before this one) left the learner at <paramref name="matchIndex"/>.</summary>
        public int CatchUpStalls(string operationId, int step, ulong matchIndex) =>
            _catchUp.AddOrUpdate((operationId, step), (matchIndex, 0),
                (_, last) => last.Match == matchIndex ? (matchIndex, last.Stalls + 1) : (matchIndex, 0)).Stalls;
    }

    /// <summary>Exponential backoff between attempts that made no progress.</summary>
    private sealed class Backoff(TimeSpan min, TimeSpan max)
    {
        private readonly TimeSpan _min = min;
        private readonly TimeSpan _max = max;
        private TimeSpan _next = min;

        public TimeSpan Next()
        {
            var now = _next;
            _next = TimeSpan.FromTicks(Math.Min(_max.Ticks, _next.Ticks * 2));
            return now;
        }

        public void Reset() => _next = _min;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Operations: executor started in term {Term}")]
    private static partial void LogTermStarted(ILogger logger, ulong term);

    [LoggerMessage(Level = LogLevel.Information, Message = "Operations: executor stopped for term {Term}")]
    private static partial void LogTermEnded(ILogger logger, ulong term);

    [LoggerMessage(Level = LogLevel.Information, Message = "Operations: {OperationId} step {Step} on range {RangeId}: {Outcome} ({Detail})")]
    private static partial void LogStepOutcome(ILogger logger, string operationId, int step, ulong rangeId, ExecuteStepResponse.OutcomeOneofCase outcome, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Operations: {Detail}")]
    private static partial void LogPruned(ILogger logger, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Operations: {OperationId} failed: {Failure}")]
    private static partial void LogFailed(ILogger logger, string operationId, string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Operations: a proposal for {OperationId} was refused: {Reason}")]
    private static partial void LogProposalRefused(ILogger logger, string operationId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Operations: driving {OperationId} failed unexpectedly; it is started again")]
    private static partial void LogDriverFailed(ILogger logger, string operationId, Exception e);
}
