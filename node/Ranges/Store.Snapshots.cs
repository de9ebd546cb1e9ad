using Google.Protobuf;
using Kv.Node.Raft;
using Kv.Node.Ranges.RaftLog;
using Kv.Node.Ranges.Snapshots;
using Kv.Node.Storage;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Ranges;

/// <summary>
/// The store's half of replica snapshots, replica creation for unknown groups, and log
/// compaction (range groups only: the placement group keeps its whole log, it has no snapshot
/// to send). Everything here runs on the driver thread unless it says otherwise.
///
/// Sending (leader): a range group's Ready may carry a MsgSnap for a follower whose next entries
/// were compacted. The round does not put it on the Raft transport: after the round's write (so
/// the engine holds exactly the applied state) it takes a RocksDB snapshot and hands it, with
/// the descriptor, the applied index, that entry's term and the configuration in force, to the
/// <see cref="ISnapshotSender"/>, which builds the SST files and streams them OFF the driver
/// thread, then posts <see cref="RaftNode.ReportSnapshot"/> back. The snapshot sent is newer than
/// the stored snapshot record the core put in the message; Raft only needs it to cover the
/// compacted prefix, and the follower answers with the index it installed.
///
/// Receiving (follower): <see cref="InstallSnapshotAsync"/> (called once the files are staged
/// and verified) checks everything the install relies on (a valid span; the staged files present,
/// complete and covering exactly the descriptor's data span; no overlap with a local range or a
/// snapshot being installed this round), because once the core takes the snapshot a failed
/// install stops the store; then it creates the replica if absent and steps a MsgSnap with the
/// files' metadata into the group. If the core takes it, the same driver iteration's round finds Ready.Snapshot and
/// (<see cref="InstallReadySnapshot"/>), in this order:
///  1. ingests the staged files (RocksDB's atomic ingest per column family; the raw-KV span is
///     one family), replacing the range's data span. The files are hard-linked, not copied, so
///     this step on the driver thread costs a scan of the span's old keys (none for a new
///     replica) and no rewrite of the data;
///  2. stages into the round's batch: the descriptor (RangeReplica.ReplaceDescriptor), the
///     snapshot record, truncated state and log deletion (StageReady), the hard state and the
///     applied index = snapshot index;
///  3. after the write: registers a new replica in <see cref="LocalRanges"/>, and only then
///     discards the staged files.
/// Crash windows, and why each is safe:
///  - after 1, before the write: the data span holds the snapshot, but the raft state and the
///    descriptor are the old ones. A replica that was uninitialized has no descriptor, so it is
///    not reopened (and serves nothing); the leader still sees it as needing a snapshot and
///    sends one again, whose ingest replaces the span again (ingest deletes every old key in
///    it). An initialized follower restarts at its old applied index over newer data: it may
///    re-apply a few old entries, but it is a follower behind the leader's compaction point, so
///    it serves no reads (reads go through the leader), cannot win an election with its short
///    log, and is sent a snapshot again that replaces the span.
///  - after the write, before the staged files are discarded: the next Begin for the range
///    (any other snapshot) resets the staging directory.
///  - while files are being received: they are fsynced chunk by chunk; a restart resumes
///    (SnapshotReceiver).
///
/// Unknown groups: a message a leader sends (append, heartbeat) for a range this store does not
/// hold creates an UNINITIALIZED replica (no descriptor, empty log, member id = the message's
/// To, knowing only the sender's store), unless a local initialized range overlaps the span the
/// sender put in the envelope (the split race: the left half here will create the right half
/// when it applies the split). An uninitialized replica answers the append with a rejection at
/// index 0; every range log starts after <see cref="InitialIndex"/>, so the leader must send it a
/// snapshot. Votes never create a replica. Its hard state (term, vote) is staged by the normal
/// round like any group's, in the raft column family under its group id, and reloaded when the
/// replica is created again after a restart: a vote it cast survives (we do not rely on it being
/// a learner).
/// </summary>
internal sealed partial class Store
{
    /// <summary>Replicas created before they have data, by group id: the stores of the members they heard from.</summary>
    private readonly Dictionary<ulong, Dictionary<ulong, ulong>> uninitialized = [];

    /// <summary>Uninitialized replicas by group id: the conf_ver of the envelope that created them.</summary>
    private readonly Dictionary<ulong, ulong> uninitializedConfVer = [];

    /// <summary>Snapshots a group's core accepted, waiting for the round that installs them.</summary>
    private readonly Dictionary<ulong, PendingInstall> pendingInstalls = [];

    /// <summary>Groups that installed a snapshot in the current round (finished after the write).</summary>
    private readonly List<(RaftGroup Group, PendingInstall Install, bool IsNew)> installedThisRound = [];

    /// <summary>Range groups led here: the term and the store tick at which this store first saw itself leader in it (MaybeCompact).</summary>
    private readonly Dictionary<ulong, (ulong Term, long Tick)> leaderSince = [];

    private long snapshotsInstalled;
    private long snapshotsHandedOut;
    private long compactions;

    /// <summary>The store's range replicas, for the overlap check and to register replicas created from snapshots. Set before Start.</summary>
    public LocalRanges? Ranges { get; init; }

    /// <summary>Where MsgSnap goes for range groups; null: snapshots are reported failed (tests without a transport).</summary>
    public ISnapshotSender? SnapshotSender { get; init; }

    /// <summary>Snapshots installed by this store's range groups (tests and metrics).</summary>
    public long SnapshotsInstalled => Interlocked.Read(ref snapshotsInstalled);

    /// <summary>Snapshots this store's leaders handed to the sender (tests and metrics).</summary>
    public long SnapshotsHandedOut => Interlocked.Read(ref snapshotsHandedOut);

    /// <summary>Log compactions staged (tests and metrics).</summary>
    public long Compactions => Interlocked.Read(ref compactions);

    /// <summary>Test hook: runs on the driver thread right after a snapshot's files were ingested, before the round's write.</summary>
    internal Action<ulong>? AfterSnapshotIngest { get; set; }

    /// <summary>Test hook: runs on the driver thread when a received snapshot is handed to the store, before any check (a throw here is a failed install).</summary>
    internal Action<ulong>? BeforeSnapshotStep { get; set; }

    /// <summary>Whether the group is open here and holds no data yet (callable from any thread; answers on the driver).</summary>
    public Task<bool> IsUninitializedAsync(ulong groupId) => InvokeAsync(() => uninitialized.ContainsKey(groupId));

    /// <summary>Whether this store has the group open (callable from any thread; answers on the driver).</summary>
    public Task<bool> HasGroupAsync(ulong groupId) => InvokeAsync(() => groups.ContainsKey(groupId));

    /// <summary>First index of the group's log (tests: shows compaction).</summary>
    public Task<ulong> FirstIndexAsync(ulong groupId) => InvokeAsync(() => groups.TryGetValue(groupId, out var g) ? g.Storage.FirstIndex() : 0);

    /// <summary>
    /// Steps a message that store fromStore sent into its group, as <see cref="StepMessage(ulong, ulong, Message)"/>;
    /// range is what the sender put in the envelope about its replica's span and epoch (null: nothing),
    /// used to create an uninitialized replica for an unknown range group.
    /// </summary>
    public void StepMessage(ulong fromStore, ulong groupId, Message message, EnvelopeRange? range) => Post(() =>
    {
        if (range is not null && groups.TryGetValue(groupId, out var existing) && IsSupersededUninitialized(existing, message, range))
        {
            // An add that was rolled back (`replica remove` of a learner that never got its
            // snapshot) leaves this empty replica under the old member id; the range has since
            // added this store again under a new id. Without this, every message to the new member
            // is misaddressed and the add can never finish. The empty replica holds no data; its
            // hard state stays, and a vote it cast only restrains the new member.
            LogUninitializedSuperseded(groupId, existing.Node.Id, message.To, range.Epoch!.ConfVer);
            Forget(existing);
        }

        if (!groups.ContainsKey(groupId) && range is not null)
        {
            TryCreateUninitialized(fromStore, groupId, message, range);
        }

        StepOnDriver(fromStore, groupId, message);
    });

    /// <summary>Driver thread: the checks and step of <see cref="StepMessage(ulong, ulong, Message)"/>.</summary>
    private void StepOnDriver(ulong fromStore, ulong groupId, Message message)
    {
        if (!groups.TryGetValue(groupId, out var g))
        {
            LogUnknownGroup(groupId, message.From);
            return;
        }

        if (uninitialized.TryGetValue(groupId, out var known) && IsLeaderMessage(message.Type) && message.To == g.Node.Id && fromStore != StoreId)
        {
            known[message.From] = fromStore; // an uninitialized replica learns its leader's store from the leader
        }

        if (message.To != g.Node.Id || g.StoreOfMember(message.From) != fromStore || fromStore == StoreId)
        {
            LogMisaddressed(groupId, fromStore, message);
            return;
        }

        var result = g.Node.Step(message);
        Touch(groupId);
        if (result is StepResult.MalformedMessage or StepResult.LocalMessageFromNetwork)
        {
            LogBadMessage(groupId, message, result);
        }
    }

    /// <summary>
    /// Driver thread: whether g is an uninitialized replica that a leader's message for another
    /// member of this store, from a strictly newer membership (conf_ver), replaces. Older messages
    /// for the old member (late, or from a deposed leader) never switch it back.
    /// </summary>
    private bool IsSupersededUninitialized(RaftGroup g, Message message, EnvelopeRange range) =>
        uninitializedConfVer.TryGetValue(g.GroupId, out var createdAt)
        && IsLeaderMessage(message.Type)
        && message.To != 0
        && message.To != g.Node.Id
        && !tombstones.Contains((g.GroupId, message.To))
        && range.Epoch is { } epoch
        && epoch.ConfVer > createdAt;

    /// <summary>Messages only a leader sends; only these may create a replica.</summary>
    private static bool IsLeaderMessage(MessageType type) => type is MessageType.App or MessageType.Heartbeat or MessageType.Snap;

    /// <summary>Driver thread: creates an uninitialized replica of an unknown range group if the message and its span allow it.</summary>
    private RaftGroup? TryCreateUninitialized(ulong fromStore, ulong groupId, Message message, EnvelopeRange range)
    {
        if (groupId == PlacementGroupId || Ranges is null || !IsLeaderMessage(message.Type) || message.To == 0 || fromStore == StoreId || range.Epoch is null
            || tombstones.Contains((groupId, message.To)))
        {
            return null;
        }

        if (!range.End.IsEmpty && range.Start.Span.SequenceCompareTo(range.End.Span) >= 0)
        {
            LogReplicaNotCreated(groupId, fromStore, "the envelope's span is empty or inverted");
            return null;
        }

        var overlapping = Ranges.Overlapping(range.Start.Span, range.End.Span);
        if (overlapping.Count > 0)
        {
            // The split race: a local range still covers this span (its split is not applied
            // here yet); it creates the new range itself when it applies the split.
            LogReplicaNotCreatedOverlap(groupId, fromStore, overlapping[0].RangeId);
            return null;
        }

        var created = OpenUninitialized(groupId, message.To, fromStore, message.From);
        if (created is not null)
        {
            uninitializedConfVer[groupId] = range.Epoch.ConfVer;
        }

        return created;
    }

    /// <summary>Driver thread: opens a group with no descriptor and (unless persisted from an earlier life) no Raft state.</summary>
    private RaftGroup? OpenUninitialized(ulong groupId, ulong localMemberId, ulong fromStore, ulong fromMember)
    {
        var storage = new EngineRaftStorage(engine, groupId);
        if (storage.LastIndex() != 0 || !storage.Snapshot().IsEmpty)
        {
            // A log without a descriptor (a replica removed here whose log was left behind, say):
            // not ours to reuse for a new replica. Refuse rather than guess; the operator clears it.
            LogReplicaNotCreated(groupId, fromStore, "this store holds a Raft log for the group but no descriptor");
            return null;
        }

        var known = new Dictionary<ulong, ulong> { [fromMember] = fromStore };
        var replica = new RangeReplica(new RangeDescriptor { RangeId = groupId }, localMemberId, this, Ranges); // host and registry: it may split once installed
        var config = new RaftConfig
        {
            Id = localMemberId,
            ElectionTick = options.ElectionTicks,
            HeartbeatTick = options.HeartbeatTicks,
            Applied = 0,
            CheckQuorum = true,
            PreVote = true,
            DisableProposalForwarding = true,
        };
        var node = new RaftNode(config, storage, random);
        var group = new RaftGroup(groupId, node, storage, replica, m => known.TryGetValue(m, out var s) ? s : replica.StoreOf(m), 0);
        groups.Add(groupId, group);
        uninitialized.Add(groupId, known);
        group.PublishSoftState();
        var term = storage.HardState.Term;
        LogUninitializedCreated(groupId, localMemberId, fromStore, term);
        return group;
    }

    /// <summary>
    /// Called (any thread) once a snapshot's files are staged and verified in receiver: creates
    /// the replica if absent and steps the snapshot into its group. Completes with (true, ...) when
    /// the group's core took it (the round installs it and then calls done), or (false, reason)
    /// when it did not (stale, refused); done is called exactly once either way, on the driver thread.
    /// </summary>
    public Task<(bool Accepted, string Message)> InstallSnapshotAsync(ulong fromStore, Message snapMessage, SnapshotManifest manifest, SnapshotReceiver receiver, Action done) =>
        InvokeAsync(() =>
        {
            (bool Accepted, string Message) outcome;
            try
            {
                outcome = StepSnapshot(fromStore, snapMessage, manifest, receiver, done);
            }
            catch
            {
                // done must run exactly once whatever happens: the caller's slot stays marked
                // "installing" (refusing every later snapshot of the range) until it does.
                done();
                throw;
            }

            if (!outcome.Accepted)
            {
                done();
            }

            return outcome;
        });

    private (bool Accepted, string Message) StepSnapshot(ulong fromStore, Message m, SnapshotManifest manifest, SnapshotReceiver receiver, Action done)
    {
        BeforeSnapshotStep?.Invoke(manifest.RangeId);
        var d = manifest.RangeDescriptor;
        var groupId = manifest.RangeId;
        if (groupId == PlacementGroupId || d is null || d.RangeId != groupId)
        {
            return (false, $"a snapshot of group {groupId} is not a range's");
        }

        // Everything InstallReadySnapshot relies on is checked here, BEFORE the core takes the
        // snapshot: once it has, a failed install stops the store (a peer could crash us).
        if (!d.EndKey.IsEmpty && d.StartKey.Span.SequenceCompareTo(d.EndKey.Span) >= 0)
        {
            return (false, $"range {groupId}'s descriptor has an empty or inverted span [{RangeBounds.Describe(d.StartKey)}, {RangeBounds.Describe(d.EndKey)}); nothing was installed. The sender must cut the snapshot from a valid descriptor.");
        }

        if (receiver.WhyNotIngestable(KeySpan.ForRange(d), checksums: false) is { } notIngestable)
        {
            return (false, $"range {groupId}'s snapshot cannot be installed: {notIngestable}; nothing was installed. Send a snapshot cut for this descriptor.");
        }

        if (m.Snapshot is not { } snap || snap.Index != manifest.Index || snap.Term != manifest.Term)
        {
            return (false, $"the snapshot message's metadata does not match the manifest (index {manifest.Index}, term {manifest.Term})");
        }

        var local = RangeBounds.Replica(d, m.To);
        if (local is null || local.StoreId != StoreId || RangeBounds.Replica(d, m.From)?.StoreId != fromStore)
        {
            return (false, $"range {groupId}'s descriptor does not place member {m.To} on store {StoreId} and member {m.From} on store {fromStore}");
        }

        if (Ranges is not null)
        {
            foreach (var other in Ranges.Overlapping(d.StartKey.Span, d.EndKey.Span))
            {
                if (other.RangeId != groupId)
                {
                    return (false, $"range {groupId}'s span overlaps local range {other.RangeId} (a split not applied here yet); retry later");
                }
            }
        }

        // Snapshots accepted earlier in this round are registered in Ranges only after the
        // round's write (FinishInstalls): check their descriptors too, or two overlapping
        // snapshots could both be installed, the second ingest wiping the first's data.
        foreach (var (otherId, other) in pendingInstalls)
        {
            if (otherId != groupId && Overlaps(d, other.Manifest.RangeDescriptor))
            {
                return (false, $"range {groupId}'s span overlaps range {otherId}, whose snapshot is being installed here; retry later");
            }
        }

        foreach (var (other, install, _) in installedThisRound)
        {
            if (other.GroupId != groupId && Overlaps(d, install.Manifest.RangeDescriptor))
            {
                return (false, $"range {groupId}'s span overlaps range {other.GroupId}, whose snapshot is being installed here; retry later");
            }
        }

        if (pendingInstalls.ContainsKey(groupId))
        {
            return (false, $"range {groupId} is already installing a snapshot; retry later");
        }

        if (!groups.TryGetValue(groupId, out var g))
        {
            g = OpenUninitialized(groupId, m.To, fromStore, m.From);
            if (g is null)
            {
                return (false, $"store {StoreId} holds a Raft log of range {groupId} but no descriptor; it cannot create a replica from this snapshot");
            }
        }

        if (g.Node.Id != m.To)
        {
            return (false, $"range {groupId}'s replica here is member {g.Node.Id}, not {m.To}");
        }

        if (uninitialized.TryGetValue(groupId, out var known))
        {
            known[m.From] = fromStore;
        }

        if (g.StoreOfMember(m.From) != fromStore)
        {
            return (false, $"range {groupId} does not place member {m.From} on store {fromStore}");
        }

        var withData = new Message
        {
            Type = MessageType.Snap,
            From = m.From,
            To = m.To,
            Term = m.Term,
            Snapshot = new Snapshot(snap.Metadata, d.ToByteArray()),
        };
        var result = g.Node.Step(withData);
        if (result != StepResult.Ok || g.Node.Core.Log.PendingSnapshot?.Index != snap.Index)
        {
            return (false, $"range {groupId} did not take the snapshot at index {snap.Index} (step: {result}; committed {g.Node.Committed}): it is stale here or from an old term");
        }

        pendingInstalls.Add(groupId, new PendingInstall(receiver, manifest, done));
        return (true, $"range {groupId} takes the snapshot at index {snap.Index}");
    }

    /// <summary>Whether the spans [start, end) of two descriptors (empty end: to the end of the key space) share a key.</summary>
    private static bool Overlaps(RangeDescriptor a, RangeDescriptor b) =>
        (b.EndKey.IsEmpty || a.StartKey.Span.SequenceCompareTo(b.EndKey.Span) < 0)
        && (a.EndKey.IsEmpty || b.StartKey.Span.SequenceCompareTo(a.EndKey.Span) < 0);

    /// <summary>Round, step 2, for a Ready with a snapshot: ingest and stage (contract in the class comment).</summary>
    private void InstallReadySnapshot(RaftGroup g, Snapshot snap, WriteBatch batch)
    {
        if (!pendingInstalls.Remove(g.GroupId, out var install) || install.Manifest.Index != snap.Index || install.Manifest.Term != snap.Term
            || g.Machine is not RangeReplica replica)
        {
            // Only StepSnapshot steps a snapshot into a group (the Raft transport refuses them).
            throw new RaftInvariantException("snapshot-install-staged", $"group {g.GroupId} was handed a snapshot at {snap.Index} with no staged files for it");
        }

        var d = install.Manifest.RangeDescriptor;
        install.Receiver.Ingest(engine, KeySpan.ForRange(d), move: true);
        AfterSnapshotIngest?.Invoke(g.GroupId);
        var isNew = replica.Descriptor.Replicas.Count == 0;
        replica.ReplaceDescriptor(d.Clone(), batch);
        StageApplied(batch, g.GroupId, snap.Index);
        g.Applied = snap.Index;
        installedThisRound.Add((g, install, isNew));
    }

    /// <summary>Round, after the write: what an installed snapshot changes outside the batch.</summary>
    private void FinishInstalls()
    {
        foreach (var (g, install, isNew) in installedThisRound)
        {
            var replica = (RangeReplica)g.Machine;
            uninitializedConfVer.Remove(g.GroupId);
            if (uninitialized.Remove(g.GroupId))
            {
                g.StoreOfMember = replica.StoreOf;
            }

            if (isNew && Ranges is not null && !Ranges.Contains(g.GroupId))
            {
                Ranges.Add(replica);
            }

            install.Done();
            Interlocked.Increment(ref snapshotsInstalled);
            LogSnapshotInstalled(g.GroupId, install.Manifest.Index, install.Manifest.Term, isNew);
        }

        installedThisRound.Clear();
    }

    /// <summary>Round, step 4: a MsgSnap of a range group goes to the snapshot sender, never on the Raft transport.</summary>
    private void SendSnapshot(RaftGroup g, Message m, ulong toStore)
    {
        if (g.GroupId == PlacementGroupId || SnapshotSender is null || g.Machine is not RangeReplica replica || toStore == 0
            || replica.Descriptor.Replicas.Count == 0 || g.Storage.Term(g.Applied, out var appliedTerm) != StorageStatus.Ok)
        {
            g.Node.ReportSnapshot(m.To, failed: true);
            return;
        }

        var groupId = g.GroupId;
        var to = m.To;
        var job = new SnapshotJob(
            groupId,
            toStore,
            m.From,
            to,
            m.Term,
            replica.Descriptor,
            g.Applied,
            appliedTerm,
            g.Node.ConfState,
            engine.GetSnapshot(),
            failed => Post(() =>
            {
                if (groups.TryGetValue(groupId, out var current))
                {
                    current.Node.ReportSnapshot(to, failed);
                }
            }));
        Interlocked.Increment(ref snapshotsHandedOut);
        SnapshotSender.Send(job);
    }

    /// <summary>
    /// Round, after apply: stages compacting a range group's log once it holds more than the
    /// threshold of applied entries, up to min(applied, the slowest follower's match among those
    /// within RaftLogMaxLagEntries of applied); followers further behind get a snapshot. The
    /// placement group keeps its log: it has no snapshot to send a follower that fell behind.
    /// </summary>
    private void MaybeCompact(RaftGroup g, WriteBatch batch)
    {
        if (g.GroupId == PlacementGroupId || g.Machine is not RangeReplica { Descriptor.Replicas.Count: > 0 })
        {
            return;
        }

        // When this store became the group's leader (for the delay below): noted on every apply,
        // so the first apply of a new term (its empty entry) marks the election.
        if (g.Node.Role == RaftRole.Leader && (!leaderSince.TryGetValue(g.GroupId, out var since) || since.Term != g.Node.Term))
        {
            leaderSince[g.GroupId] = (g.Node.Term, ticks);
        }

        var first = g.Storage.FirstIndex();
        var threshold = Math.Max(1, options.RaftLogCompactThreshold);
        if (g.Applied < first || g.Applied - first < threshold)
        {
            return;
        }

        var target = g.Applied;
        if (g.Node.Role == RaftRole.Leader)
        {
            // Right after an election every follower's Match is 0 (unknown, not "nothing"): the
            // bound below would skip them all and compact to applied, forcing snapshots on
            // followers only slightly behind. So while the leadership is young, an unknown Match
            // means "do not compact this round". After that window (a live follower has answered
            // a heartbeat by then) a Match still 0 is a follower down or far behind: it must not
            // block compaction forever, and is skipped like any follower beyond the lag bound.
            var delay = options.NewLeaderCompactionDelayTicks > 0 ? options.NewLeaderCompactionDelayTicks : Math.Max(1, options.ElectionTicks) * 2L;
            var young = ticks - leaderSince[g.GroupId].Tick < delay;
            var maxLag = options.RaftLogMaxLagEntries > 0 ? options.RaftLogMaxLagEntries : threshold;
            var bound = g.Applied > maxLag ? g.Applied - maxLag : 0;
            foreach (var (id, pr) in g.Node.Core.Tracker.Progress)
            {
                if (young && id != g.Node.Id && pr.Match == 0)
                {
                    return;
                }

                if (id != g.Node.Id && pr.Match >= bound && pr.Match < target)
                {
                    target = pr.Match;
                }
            }
        }

        // Compacting a little at a time would rewrite the snapshot record every round: wait for half a threshold.
        if (target < first || target - first < threshold / 2)
        {
            return;
        }

        g.Storage.StageCreateSnapshot(batch, target, g.Node.ConfState, ReadOnlyMemory<byte>.Empty);
        g.Storage.StageCompact(batch, target);
        Interlocked.Increment(ref compactions);
    }

    private const ulong PlacementGroupId = 0;

    private sealed record PendingInstall(SnapshotReceiver Receiver, SnapshotManifest Manifest, Action Done);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId}: the empty replica of member {OldMember} is replaced by member {NewMember} (the range added this store again, conf_ver {ConfVer})")]
    private partial void LogUninitializedSuperseded(ulong groupId, ulong oldMember, ulong newMember, ulong confVer);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId}: created an uninitialized replica as member {MemberId} (contacted by store {FromStore}; term {Term}); it waits for a snapshot")]
    private partial void LogUninitializedCreated(ulong groupId, ulong memberId, ulong fromStore, ulong term);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId}: no replica created for a message from store {FromStore}: {Reason}")]
    private partial void LogReplicaNotCreated(ulong groupId, ulong fromStore, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId}: no replica created for a message from store {FromStore}: local range {RangeId} overlaps its span (the split race: that range creates it when it applies the split)")]
    private partial void LogReplicaNotCreatedOverlap(ulong groupId, ulong fromStore, ulong rangeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId}: installed a snapshot at index {Index} term {Term} (new replica: {IsNew})")]
    private partial void LogSnapshotInstalled(ulong groupId, ulong index, ulong term, bool isNew);
}

/// <summary>What a Raft envelope says about the sender's replica: its span [Start, End) (empty End: to the end) and epoch.</summary>
internal sealed record EnvelopeRange(ByteString Start, ByteString End, RangeEpoch? Epoch);

/// <summary>
/// One snapshot to send (built by the Store on its driver thread): the follower, the leader's
/// message fields, and what to cut: the descriptor and the engine snapshot taken at the applied
/// index, whose term and configuration are given. Report(failed) must be called exactly once.
/// The receiver of the job owns (and disposes) EngineSnapshot.
/// </summary>
internal sealed record SnapshotJob(
    ulong GroupId,
    ulong ToStore,
    ulong FromMember,
    ulong ToMember,
    ulong LeaderTerm,
    RangeDescriptor Descriptor,
    ulong Index,
    ulong Term,
    ConfState ConfState,
    EngineSnapshot EngineSnapshot,
    Action<bool> Report);

/// <summary>Takes range snapshots off the driver thread. Send is called on the driver thread and must return at once.</summary>
internal interface ISnapshotSender
{
    void Send(SnapshotJob job);
}
