using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using Kv.Node.Raft;
using Kv.Node.Ranges.RaftLog;
using Kv.Node.Storage;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Ranges;

/// <summary>
/// One store: every Raft group of this node (the ranges' replicas and, on placement members, the
/// placement group) on one Engine, driven by one thread. Other threads talk to it only by posting
/// work to its inbox (<see cref="Post"/>, <see cref="ProposeAsync"/>, <see cref="ReadIndexAsync"/>,
/// <see cref="InvokeAsync{T}"/>).
///
/// One round of the driver, in this order (RaftNode's contract, for all groups at once):
///  1. Tick every group if a tick is due; run the posted work (messages from peers, proposals,
///     reads). Reads that arrived this round share one ReadIndex request per group.
///  2. For every group with a Ready: stage its snapshot, entries and hard state into THE round's
///     write batch, then apply its committed entries into the same batch together with the
///     group's applied index. All groups share the batch: one write and (when any group needs
///     it) one fsync per round — group commit across ranges.
///  3. Write the batch. A failed write stops the process: acknowledged state cannot be trusted
///     after a failed sync, and Raft's promises depend on it.
///  4. Confirm the storages (OnPersisted), hand all groups' messages to the sender (batched per
///     destination store), then answer proposers and readers: only now is what they were told durable.
///  5. Advance every group.
/// Applying committed entries before they are persisted locally is safe because both land in
/// the same atomic write, and committed means a quorum already has them.
/// </summary>
internal sealed partial class Store : IDisposable
{
    /// <summary>Kind of the applied-index record in the raft column family (RaftLogCodec leaves 0x20-0xFE free).</summary>
    private const byte KindAppliedIndex = 0x20;

    /// <summary>Index and term of the synthetic snapshot every new group starts from (as TiKV does): above 0 so it is never "empty".</summary>
    public const ulong InitialIndex = 5;

    private readonly Engine engine;
    private readonly StoreOptions options;
    private readonly IRaftMessageSender sender;
    private readonly ILogger logger;
    private readonly Action<string, Exception?> fatal;
    private readonly ConcurrentQueue<Action> inbox = new();
    private readonly ManualResetEventSlim signal = new(false);
    private readonly Dictionary<ulong, RaftGroup> groups = [];
    private readonly List<RaftGroup> groupsWithReads = [];
    private readonly List<(RaftGroup Group, Ready Ready)> readies = [];
    private readonly List<(TaskCompletionSource<object?> Waiter, object? Result)> completions = [];
    private readonly List<RaftGroup> destroyed = [];

    /// <summary>(group, member) pairs destroyed on this store since it started: never recreated from a peer's message.</summary>
    private readonly HashSet<(ulong Group, ulong Member)> tombstones = [];
    private readonly IElectionRandom random = new SharedElectionRandom();
    private readonly Thread driver;
    private volatile bool stopping;
    private long ticks;
    private long writes;
    private ulong nextReadContext;

    public Store(Engine engine, ulong storeId, StoreOptions options, IRaftMessageSender sender, ILogger logger, Action<string, Exception?>? fatal = null)
    {
        this.engine = engine;
        StoreId = storeId;
        this.options = options;
        this.sender = sender;
        this.logger = logger;
        this.fatal = fatal ?? DefaultFatal;
        driver = new Thread(Run) { IsBackground = true, Name = $"store-{storeId}" };
    }

    public ulong StoreId { get; }

    public Engine Engine => engine;

    /// <summary>Proposal, apply and leadership counts (null: not recorded); set before <see cref="Start"/>.</summary>
    public RaftMetrics? Metrics { get; init; }

    /// <summary>Write batches the driver has written (each round writes at most one, for all groups).</summary>
    public long Writes => Interlocked.Read(ref writes);

    public void Start() => driver.Start();

    // ---- the inbox: the only way in from other threads ---------------------------------

    /// <summary>Runs action on the driver thread in the next round.</summary>
    public void Post(Action action)
    {
        inbox.Enqueue(action);
        signal.Set();
    }

    /// <summary>Runs fn on the driver thread and returns its result (queries and group management).</summary>
    public Task<T> InvokeAsync<T>(Func<T> fn)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try
            {
                tcs.TrySetResult(fn());
            }
#pragma warning disable CA1031 // the caller gets the exception; the driver must go on
            catch (Exception e)
#pragma warning restore CA1031
            {
                tcs.TrySetException(e);
            }
        });
        return tcs.Task;
    }

    /// <summary>
    /// Steps a message that store fromStore sent into its group. Refused (logged, dropped) unless
    /// it is addressed to this replica and comes from a member the group places on fromStore: a
    /// confused or hostile peer must not speak for members it does not host. Unknown groups are
    /// ignored (the sender retries or gives up).
    /// </summary>
    public void StepMessage(ulong fromStore, ulong groupId, Message message) => Post(() => StepOnDriver(fromStore, groupId, message));

    /// <summary>
    /// Proposes data (which carries proposalId) after admit agrees. admit runs on the driver
    /// thread with the group; a non-null result is returned at once and nothing is proposed.
    /// Completes with the state machine's result once the entry is applied and durable; fails with
    /// <see cref="GroupNotLeaderException"/> or <see cref="GroupNotFoundException"/>.
    /// </summary>
    public Task<object?> ProposeAsync(ulong groupId, ulong proposalId, ReadOnlyMemory<byte> data, Func<RaftGroup, object?>? admit = null)
    {
        var tcs = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            if (LeaderFor(groupId, tcs, admit) is not { } g)
            {
                return;
            }

            var step = g.Node.Propose(data);
            if (step != StepResult.Ok)
            {
                tcs.TrySetException(new GroupNotLeaderException(groupId, g.Node.Lead));
                return;
            }

            Metrics?.Proposed(confChange: false);

            if (proposalId != 0)
            {
                g.Proposals[proposalId] = (tcs, g.Node.Term);
            }
            else
            {
                tcs.TrySetResult(null);
            }
        });
        return tcs.Task;
    }

    /// <summary>
    /// Proposes a membership change on the group's leader. Completes with the resulting
    /// <see cref="ConfState"/> once the change is applied here and durable (with the
    /// configuration recorded for restarts); fails with <see cref="GroupNotLeaderException"/> when
    /// this replica does not lead or stops leading first, and with
    /// <see cref="InvalidOperationException"/> when the core refuses it (another change pending).
    /// </summary>
    /// <remarks>admit works as in <see cref="ProposeAsync"/>: a non-null result is returned and nothing is proposed.</remarks>
    public Task<object?> ProposeConfChangeAsync(ulong groupId, ConfChange change, Func<RaftGroup, object?>? admit = null)
    {
        var tcs = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            if (LeaderFor(groupId, tcs, admit) is not { } g)
            {
                return;
            }

            if (g.PendingConfChange is not null)
            {
                tcs.TrySetException(new InvalidOperationException($"group {groupId} already has a membership change in progress; wait for it to finish"));
                return;
            }

            var step = g.Node.ProposeConfChange(change);
            if (step != StepResult.Ok)
            {
                tcs.TrySetException(step == StepResult.ConfChangeRefused
                    ? new InvalidOperationException($"group {groupId} refused the membership change: another one is pending or it does not fit the current configuration")
                    : new GroupNotLeaderException(groupId, g.Node.Lead));
                return;
            }

            Metrics?.Proposed(confChange: true);
            // A leader appends its proposal at once: the entry's index is the last one.
            g.PendingConfChange = (g.Node.LastIndex, g.Node.Term, tcs);
        });
        return tcs.Task;
    }

    /// <summary>
    /// Asks the group's leader to hand leadership to transferee (Raft 3.10) after admit agrees
    /// (as in <see cref="ProposeAsync"/>). Completes with admit's refusal, or null once the
    /// request is handed to the core; the caller watches <see cref="StatusAsync"/> for the outcome.
    /// </summary>
    public Task<object?> TransferLeaderAsync(ulong groupId, ulong transferee, Func<RaftGroup, object?>? admit = null)
    {
        var tcs = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            if (LeaderFor(groupId, tcs, admit) is not { } g)
            {
                return;
            }

            if (transferee != g.Node.Id)
            {
                g.Node.TransferLeader(transferee);
            }

            tcs.TrySetResult(null);
        });
        return tcs.Task;
    }

    /// <summary>
    /// A linearizable read point: completes once this replica, as leader, has confirmed its
    /// leadership with a quorum (ReadIndex) and applied up to the commit index at the time of the
    /// call. The caller then reads the engine. admit works as in <see cref="ProposeAsync"/>; its
    /// non-null result is the task's result.
    /// </summary>
    public Task<object?> ReadIndexAsync(ulong groupId, Func<RaftGroup, object?>? admit = null)
    {
        var done = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            if (LeaderFor(groupId, done, admit) is not { } g)
            {
                return;
            }

            var read = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _ = read.Task.ContinueWith(
                static (t, s) =>
                {
                    var d = (TaskCompletionSource<object?>)s!;
                    if (t.IsFaulted)
                    {
                        d.TrySetException(t.Exception!.InnerExceptions);
                    }
                    else
                    {
                        d.TrySetResult(null);
                    }
                },
                done,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            if (g.ReadsThisRound.Count == 0)
            {
                groupsWithReads.Add(g);
            }

            g.ReadsThisRound.Add(read);
        });
        return done.Task;
    }

    /// <summary>
    /// Driver thread: the group, when this replica leads it and the caller's admission check
    /// agrees. Otherwise completes the request (group not found, not the leader, the check's
    /// refusal as the result, or the check's exception: never the driver's) and returns null.
    /// </summary>
    private RaftGroup? LeaderFor(ulong groupId, TaskCompletionSource<object?> request, Func<RaftGroup, object?>? admit)
    {
        if (!groups.TryGetValue(groupId, out var g))
        {
            request.TrySetException(new GroupNotFoundException(groupId));
            return null;
        }

        if (g.Node.Role != RaftRole.Leader)
        {
            request.TrySetException(new GroupNotLeaderException(groupId, g.Node.Lead));
            return null;
        }

        try
        {
            if (admit?.Invoke(g) is { } refusal)
            {
                request.TrySetResult(refusal);
                return null;
            }
        }
#pragma warning disable CA1031 // the request gets the exception; the driver goes on
        catch (Exception e)
#pragma warning restore CA1031
        {
            request.TrySetException(e);
            return null;
        }

        return g;
    }

    // ---- groups -------------------------------------------------------------------------

    /// <summary>
    /// Opens (or, with initialVoters, creates if absent) a group on the driver thread. Creating
    /// writes, in one synced batch, a synthetic snapshot at <see cref="InitialIndex"/> whose
    /// configuration is initialVoters, the matching hard state and applied index, and whatever
    /// initialize stages (a range descriptor, say): a crash leaves either nothing or all of it.
    /// </summary>
    public Task<RaftGroup> OpenGroupAsync(ulong groupId, ulong localMemberId, IGroupStateMachine machine, Func<ulong, ulong> storeOfMember,
        ulong[]? initialVoters = null, Action<WriteBatch>? initialize = null) =>
        InvokeAsync(() => OpenGroup(groupId, localMemberId, machine, storeOfMember, initialVoters, initialize));

    /// <summary>Whether the group has any persisted Raft state on this store (callable from any thread).</summary>
    public bool GroupExists(ulong groupId) =>
        engine.Get(ColumnFamily.Raft, RaftLogCodec.StateKey(groupId, RaftLogCodec.KindHardState)) is not null;

    /// <summary>
    /// Whether <see cref="OpenGroupAsync"/> with an initial configuration would create the group:
    /// it is not open and has no log or snapshot here. A hard state alone does not count: an
    /// uninitialized replica killed before its snapshot leaves one, and a bootstrap member must
    /// still create its replica from the bootstrap then (else, with no replica open, it drops the
    /// vote requests of its range and the range can lose its quorum). Answers on the driver.
    /// </summary>
    public Task<bool> CanCreateGroupAsync(ulong groupId) => InvokeAsync(() =>
    {
        if (groups.ContainsKey(groupId))
        {
            return false;
        }

        var storage = new EngineRaftStorage(engine, groupId);
        return storage.LastIndex() == 0 && storage.Snapshot().IsEmpty;
    });

    private RaftGroup OpenGroup(ulong groupId, ulong localMemberId, IGroupStateMachine machine, Func<ulong, ulong> storeOfMember, ulong[]? initialVoters, Action<WriteBatch>? initialize)
    {
        if (groups.ContainsKey(groupId))
        {
            throw new InvalidOperationException($"group {groupId} is already open on store {StoreId}");
        }

        var storage = new EngineRaftStorage(engine, groupId);
        bool noLog = storage.LastIndex() == 0 && storage.Snapshot().IsEmpty;
        if (noLog && (storage.HardState.IsEmpty || initialVoters is not null))
        {
            if (initialVoters is null)
            {
                throw new InvalidOperationException($"group {groupId} has no state on store {StoreId} and no initial configuration was given");
            }

            // A hard state without a log is what an uninitialized replica leaves (created by a
            // leader's message before this creation, killed before its snapshot): its term and
            // vote are kept, so a vote it cast is never cast again in the same term.
            using var batch = engine.NewWriteBatch();
            StageInitialState(batch, storage, groupId, ConfState.OfVoters(initialVoters), storage.HardState);
            initialize?.Invoke(batch);
            engine.Write(batch, sync: true);
            storage.OnPersisted();
        }

        return Register(groupId, localMemberId, storage, machine, storeOfMember);
    }

    /// <summary>Builds the core over a storage holding the group's persisted state and adds the group to the driver's set.</summary>
    private RaftGroup Register(ulong groupId, ulong localMemberId, EngineRaftStorage storage, IGroupStateMachine machine, Func<ulong, ulong> storeOfMember)
    {
        var appliedBytes = engine.Get(ColumnFamily.Raft, AppliedKey(groupId));
        if (appliedBytes is not { Length: 8 })
        {
            throw new RaftLogCorruptException(groupId, "applied index", appliedBytes is null ? "missing" : $"{appliedBytes.Length} bytes, expected 8");
        }

        var applied = BinaryPrimitives.ReadUInt64BigEndian(appliedBytes);
        var config = new RaftConfig
        {
            Id = localMemberId,
            ElectionTick = options.ElectionTicks,
            HeartbeatTick = options.HeartbeatTicks,
            Applied = applied,
            CheckQuorum = true,
            PreVote = true,
            // Proposals are only made on the leader (ProposeAsync checks); a follower must not
            // forward one it cannot track.
            DisableProposalForwarding = true,
        };
        var node = new RaftNode(config, storage, random);
        var group = new RaftGroup(groupId, node, storage, machine, storeOfMember, applied);
        groups.Add(groupId, group);
        group.PublishSoftState();
        var lastIndex = storage.LastIndex();
        LogGroupOpened(groupId, localMemberId, applied, lastIndex);
        return group;
    }

    internal static byte[] AppliedKey(ulong groupId) => RaftLogCodec.StateKey(groupId, KindAppliedIndex);

    private static void StageApplied(WriteBatch batch, ulong groupId, ulong applied)
    {
        Span<byte> v = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(v, applied);
        batch.Put(ColumnFamily.Raft, AppliedKey(groupId), v);
    }

    /// <summary>Snapshot of (group id, lead, is leader, term) for every group, for heartbeats and status.</summary>
    public Task<IReadOnlyList<GroupStatus>> StatusAsync() => InvokeAsync<IReadOnlyList<GroupStatus>>(() =>
        groups.Values.Select(g => new GroupStatus(g.GroupId, g.Node.Lead, g.Node.Role == RaftRole.Leader, g.Node.Term, g.Applied, g.Node.Committed)).ToList());

    // ---- membership ---------------------------------------------------------------------

    /// <summary>
    /// Raised on the driver thread after a group was destroyed on this store (its removal applied,
    /// or <see cref="DestroyGroupAsync"/>) and the deletion is durable. Handlers must not block.
    /// </summary>
    public event Action<ulong>? GroupDestroyed;

    /// <summary>
    /// The group's membership as its leader sees it: configuration, whether a change is pending,
    /// last index and every member's match index. Answers through admit/leadership like
    /// <see cref="ProposeAsync"/> (a <see cref="MembershipView"/> on success).
    /// </summary>
    public Task<object?> MembershipAsync(ulong groupId, Func<RaftGroup, object?>? admit = null)
    {
        var tcs = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            if (LeaderFor(groupId, tcs, admit) is not { } g)
            {
                return;
            }

            tcs.TrySetResult(ViewOf(g));
        });
        return tcs.Task;
    }

    internal static MembershipView ViewOf(RaftGroup g)
    {
        var cs = g.Node.ConfState;
        var match = new Dictionary<ulong, ulong>();
        foreach (var id in cs.Voters.Concat(cs.VotersOutgoing).Concat(cs.Learners))
        {
            match[id] = g.Node.MatchOf(id);
        }

        return new MembershipView(cs, g.PendingConfChange is not null || g.Node.HasPendingConfChange, g.Node.LastIndex, g.Node.Id, match);
    }

    /// <summary>
    /// Destroys a group on this store (a stale replica: its range no longer lists this store) in
    /// one synced write: its Raft state, and what the machine owns (<see cref="IGroupStateMachine.StageDestroy"/>).
    /// Its waiters fail. shouldDestroy runs on the driver thread first; false leaves it alone, and
    /// so does an uninitialized group (no descriptor yet).
    /// Completes with whether the group was destroyed.
    /// </summary>
    public Task<bool> DestroyGroupAsync(ulong groupId, Func<RaftGroup, bool> shouldDestroy) => InvokeAsync(() =>
    {
        // An uninitialized replica (waiting for its first snapshot) is never destroyed this way:
        // it has no span of its own to judge staleness by, and its hard state (a vote) must survive.
        if (groupId == 0 || !groups.TryGetValue(groupId, out var g) || uninitialized.ContainsKey(groupId) || !shouldDestroy(g))
        {
            return false;
        }

        using var batch = engine.NewWriteBatch();
        StageDestroy(g, batch);
        engine.Write(batch, sync: true);
        Interlocked.Increment(ref writes);
        Forget(g);
        return true;
    });

    private void StageDestroy(RaftGroup g, WriteBatch batch)
    {
        var (start, end) = RaftLogCodec.GroupBounds(g.GroupId);
        batch.DeleteRange(ColumnFamily.Raft, start, end);
        // The other replicas' spans are kept whatever g's descriptor says: live replicas never
        // overlap, so this deletes nothing less in a healthy store, and a stale or wrongly
        // created replica (one with the bootstrap's whole-key-space span, say) cannot wipe them.
        var keep = new List<UserKeySpan>();
        foreach (var other in groups.Values)
        {
            if (other != g && other.Machine.DataSpan is { } span)
            {
                keep.Add(span);
            }
        }

        g.Machine.StageDestroy(batch, keep);
    }

    /// <summary>Driver thread, after a destroy is durable: the group leaves the store.</summary>
    private void Forget(RaftGroup g)
    {
        groups.Remove(g.GroupId);
        uninitialized.Remove(g.GroupId);
        uninitializedConfVer.Remove(g.GroupId);
        leaderSince.Remove(g.GroupId);
        if (pendingInstalls.Remove(g.GroupId, out var install))
        {
            install.Done();
        }

        // A late message of the old leader must not bring this member back as an empty replica.
        tombstones.Add((g.GroupId, g.Node.Id));
        g.FailWaiters(new GroupNotFoundException(g.GroupId));
        FailConditions(g.GroupId);
        GroupDestroyed?.Invoke(g.GroupId);
        LogGroupDestroyed(g.GroupId, g.Node.Id);
    }

    // ---- the driver ---------------------------------------------------------------------

    private void Run()
    {
        var nextTick = Stopwatch.GetTimestamp() + ToStopwatch(options.TickInterval);
        using var batch = engine.NewWriteBatch();
        while (!stopping)
        {
            var now = Stopwatch.GetTimestamp();
            var wait = nextTick - now;
            if (wait > 0 && inbox.IsEmpty)
            {
                signal.Wait(TimeSpan.FromTicks(Math.Max(1, wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency)));
            }

            signal.Reset();
            try
            {
                now = Stopwatch.GetTimestamp();
                if (now >= nextTick)
                {
                    nextTick = now + ToStopwatch(options.TickInterval);
                    Tick();
                }

                // Only what was queued when the round began: a flood of posts must not starve
                // the persist-and-send half of the round.
                for (var n = inbox.Count; n > 0 && inbox.TryDequeue(out var work); n--)
                {
                    work();
                }

                StartReads();
                Round(batch);
                CheckConditions();
            }
#pragma warning disable CA1031 // anything escaping a round is a bug that must stop the process, loudly
            catch (Exception e)
#pragma warning restore CA1031
            {
                fatal($"store {StoreId}: the driver loop failed; stopping so that no acknowledged write can be lost", e);
                return;
            }
        }

        var stopped = new GroupNotLeaderException(0, 0);
        foreach (var g in groups.Values)
        {
            g.FailWaiters(stopped);
        }
    }

    private void Tick()
    {
        ticks++;
        if (campaigns.Count > 0)
        {
            RetryCampaigns();
        }

        foreach (var g in groups.Values)
        {
            g.Node.Tick();
            if (g.ReadsInFlight.Count > 0)
            {
                ExpireReads(g);
            }
        }
    }

    private void ExpireReads(RaftGroup g)
    {
        List<ulong>? expired = null;
        foreach (var (ctx, (_, issued)) in g.ReadsInFlight)
        {
            if (ticks - issued > options.ReadTimeoutTicks)
            {
                (expired ??= []).Add(ctx);
            }
        }

        if (expired is null)
        {
            return;
        }

        var reason = new GroupNotLeaderException(g.GroupId, g.Node.Role == RaftRole.Leader ? 0 : g.Node.Lead);
        foreach (var ctx in expired)
        {
            g.ReadsInFlight.Remove(ctx, out var r);
            foreach (var w in r.Waiters)
            {
                w.TrySetException(reason);
            }
        }
    }

    private void StartReads()
    {
        foreach (var g in groupsWithReads)
        {
            if (g.ReadsThisRound.Count == 0)
            {
                continue;
            }

            var ctx = ++nextReadContext;
            var waiters = new List<TaskCompletionSource>(g.ReadsThisRound);
            g.ReadsThisRound.Clear();
            if (g.Node.ReadIndex(ctx) != StepResult.Ok)
            {
                var reason = new GroupNotLeaderException(g.GroupId, g.Node.Lead);
                foreach (var w in waiters)
                {
                    w.TrySetException(reason);
                }

                continue;
            }

            g.ReadsInFlight[ctx] = (waiters, ticks);
        }

        groupsWithReads.Clear();
    }

    private void Round(WriteBatch batch)
    {
        // 2. Stage every group's Ready and apply committed entries, all into one batch.
        batch.Clear();
        var mustSync = false;
        foreach (var g in groups.Values)
        {
            if (!g.Node.HasReady)
            {
                continue;
            }

            var rd = g.Node.Ready();
            readies.Add((g, rd));
            Touch(g.GroupId);
            if (rd.Snapshot is not null)
            {
                // Range snapshots only (Store.Snapshots.cs): ingest the staged files, stage the descriptor and applied index.
                InstallReadySnapshot(g, rd.Snapshot, batch);
                mustSync = true;
            }

            g.Storage.StageReady(batch, rd);
            mustSync |= rd.MustSync;
            if (rd.CommittedEntries.Count > 0)
            {
                var applyStarted = Stopwatch.GetTimestamp();
                Apply(g, rd.CommittedEntries, batch);
                Metrics?.Applied(rd.CommittedEntries.Count, applyStarted);
                if (destroyed.Count == 0 || destroyed[^1] != g)
                {
                    MaybeCompact(g, batch); // a group destroyed by this apply has no log left to compact
                }
            }
        }

        // A destroyed group's deletions must be durable before anyone is told it is gone.
        mustSync |= destroyed.Count > 0;

        if (readies.Count == 0)
        {
            return;
        }

        // 3. One write, one sync for all groups.
        if (batch.Count > 0)
        {
            engine.Write(batch, sync: mustSync);
            Interlocked.Increment(ref writes);
        }

        // 4. Confirm, send, answer.
        foreach (var (g, _) in readies)
        {
            g.Storage.OnPersisted();
        }

        FinishInstalls();
        OpenCreatedGroups();

        foreach (var (g, rd) in readies)
        {
            foreach (var m in rd.Messages)
            {
                var toStore = g.StoreOfMember(m.To);
                if (m.Type == MessageType.Snap)
                {
                    SendSnapshot(g, m, toStore); // off the Raft transport (Store.Snapshots.cs)
                }
                else if (toStore != 0)
                {
                    sender.Send(toStore, g.GroupId, m);
                }
            }
        }

        sender.Flush();
        foreach (var (waiter, result) in completions)
        {
            waiter.TrySetResult(result);
        }

        completions.Clear();
        foreach (var (g, rd) in readies)
        {
            // Leadership first: a replica deposed in this Ready must fail its reads, not answer them.
            ObserveLeadership(g);
            AnswerReads(g, rd.ReadStates);
        }

        // 5. Advance.
        foreach (var (g, _) in readies)
        {
            g.Node.Advance();
        }

        readies.Clear();
        foreach (var g in destroyed)
        {
            Forget(g);
        }

        destroyed.Clear();
    }

    private void Apply(RaftGroup g, IReadOnlyList<Entry> entries, WriteBatch batch)
    {
        foreach (var e in entries)
        {
            if (e.Index != g.Applied + 1)
            {
                throw new RaftInvariantException("apply-in-order", $"group {g.GroupId}: entry {e.Index} handed out for apply after {g.Applied}");
            }

            switch (e.Type)
            {
                case EntryType.Normal when e.Data.Length > 0:
                    var (proposalId, result) = g.Machine.Apply(e, batch);
                    if (proposalId != 0 && g.Proposals.Remove(proposalId, out var p))
                    {
                        completions.Add((p.Waiter, result));
                    }

                    break;
                case EntryType.ConfChange:
                    if (ConfChange.TryDecode(e.Data.Span, out var cc))
                    {
                        // Recorded with this entry's apply: a restart resumes in this configuration.
                        // The machine's effects (a range's descriptor) go into the same batch.
                        var cs = g.Node.ApplyConfChange(cc, out var refused);
                        g.Storage.StageAppliedConfState(batch, e.Index, cs);
                        var member = refused is not null || g.Machine.ApplyConfChange(e, cc, cs, batch);
                        if (g.PendingConfChange is { } pending && pending.Index == e.Index)
                        {
                            g.PendingConfChange = null;
                            completions.Add((pending.Waiter, cs));
                        }

                        if (!member)
                        {
                            // This replica was removed: it destroys itself in this very batch, and
                            // nothing after its removal applies here (no applied index is staged:
                            // its Raft state is gone).
                            g.Applied = e.Index;
                            StageDestroy(g, batch);
                            destroyed.Add(g);
                            LogRemovedByConfChange(g.GroupId, g.Node.Id, e.Index, cs);
                            return;
                        }
                    }

                    break;
                default:
                    break; // an empty entry a new leader appends to commit its term
            }

            g.Applied = e.Index;
        }

        StageApplied(batch, g.GroupId, g.Applied);
    }

    private static void AnswerReads(RaftGroup g, IReadOnlyList<ReadState> states)
    {
        foreach (var rs in states)
        {
            if (g.ReadsInFlight.Remove(rs.Context, out var r))
            {
                g.ReadsAwaitingApply.Add((rs.Index, r.Waiters));
            }
        }

        for (var i = g.ReadsAwaitingApply.Count - 1; i >= 0; i--)
        {
            var (index, waiters) = g.ReadsAwaitingApply[i];
            if (index <= g.Applied)
            {
                foreach (var w in waiters)
                {
                    w.TrySetResult();
                }

                g.ReadsAwaitingApply.RemoveAt(i);
            }
        }
    }

    /// <summary>A replica that stops leading, or leads in a new term, fails what waits on its old leadership.</summary>
    private void ObserveLeadership(RaftGroup g)
    {
        var isLeader = g.Node.Role == RaftRole.Leader;
        var term = g.Node.Term;
        if (g.WasLeader && (!isLeader || term != g.LastTerm))
        {
            var reason = new GroupNotLeaderException(g.GroupId, isLeader ? 0 : g.Node.Lead);
            List<ulong>? stale = null;
            foreach (var (id, (_, proposedIn)) in g.Proposals)
            {
                if (!isLeader || proposedIn != term)
                {
                    (stale ??= []).Add(id);
                }
            }

            foreach (var id in stale ?? [])
            {
                g.Proposals.Remove(id, out var p);
                p.Waiter.TrySetException(reason);
            }

            if (g.PendingConfChange is { } cc && (!isLeader || cc.Term != term))
            {
                g.PendingConfChange = null;
                cc.Waiter.TrySetException(reason);
            }

            if (!isLeader)
            {
                g.FailReads(reason);
            }
        }

        if (isLeader != g.WasLeader || term != g.LastTerm)
        {
            // The log's tail with every role change: what an election decided on, for diagnosis.
            var lastLogTerm = g.Node.Core.Log.LastTerm();
            var firstIndex = g.Storage.FirstIndex();
            LogLeadership(g.GroupId, term, isLeader, g.Node.Lead, g.Node.LastIndex, lastLogTerm, g.Applied, firstIndex);
        }

        if (isLeader != g.WasLeader || (isLeader && term != g.LastTerm))
        {
            Metrics?.LeadershipChanged(isLeader);
        }

        g.WasLeader = isLeader;
        g.LastTerm = term;
        g.PublishSoftState();
    }

    private static long ToStopwatch(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private void DefaultFatal(string message, Exception? e)
    {
        LogFatal(e, message);
        Environment.FailFast(message, e);
    }

    public void Dispose()
    {
        stopping = true;
        signal.Set();
        if (driver.IsAlive)
        {
            driver.Join();
        }

        signal.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId} opened as member {MemberId}: applied {Applied}, last index {LastIndex}")]
    private partial void LogGroupOpened(ulong groupId, ulong memberId, ulong applied, ulong lastIndex);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId} term {Term}: leader={IsLeader} lead={Lead} (log last index {LastIndex} term {LastLogTerm}, applied {Applied}, first index {FirstIndex})")]
    private partial void LogLeadership(ulong groupId, ulong term, bool isLeader, ulong lead, ulong lastIndex, ulong lastLogTerm, ulong applied, ulong firstIndex);

    [LoggerMessage(Level = LogLevel.Debug, Message = "message for unknown group {GroupId} from member {From} dropped")]
    private partial void LogUnknownGroup(ulong groupId, ulong from);

    [LoggerMessage(Level = LogLevel.Warning, Message = "group {GroupId}: dropped a message from store {FromStore} not addressed to this replica or not from a member on that store: {Message}")]
    private partial void LogMisaddressed(ulong groupId, ulong fromStore, Message message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "group {GroupId}: refused a peer's message {Message}: {Result}")]
    private partial void LogBadMessage(ulong groupId, Message message, StepResult result);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId}: member {MemberId} removed from the configuration at index {Index} ({ConfState}); destroying this replica")]
    private partial void LogRemovedByConfChange(ulong groupId, ulong memberId, ulong index, ConfState confState);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId}: replica {MemberId} destroyed on this store")]
    private partial void LogGroupDestroyed(ulong groupId, ulong memberId);

    [LoggerMessage(Level = LogLevel.Critical, Message = "{Message}")]
    private partial void LogFatal(Exception? e, string message);

    private sealed class SharedElectionRandom : IElectionRandom
    {
#pragma warning disable CA5394 // election jitter, not security
        public int Next(int maxExclusive) => Random.Shared.Next(maxExclusive);
#pragma warning restore CA5394
    }
}

/// <summary>A group's membership as its leader sees it (Match: each member's replicated index).</summary>
internal sealed record MembershipView(ConfState ConfState, bool ChangePending, ulong LastIndex, ulong LeaderId, IReadOnlyDictionary<ulong, ulong> Match);

/// <summary>What a store reports about one of its groups.</summary>
internal readonly record struct GroupStatus(ulong GroupId, ulong Lead, bool IsLeader, ulong Term, ulong Applied, ulong Committed);
