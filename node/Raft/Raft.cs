using System.Diagnostics;

namespace Kv.Node.Raft;

/// <summary>
/// The Raft protocol for one member: a pure state machine. Messages and ticks go in; outgoing
/// messages, log changes and read states accumulate for RaftNode to hand out as a Ready. Roles
/// are swapped step and tick functions (etcd's design), not subclasses. Not thread-safe.
/// Section numbers in comments refer to Ongaro's dissertation; "figure 2" to the Raft paper.
/// </summary>
internal sealed class Raft
{
    public const ulong None = 0;

    private readonly IElectionRandom random;
    private readonly int heartbeatTimeout;
    private readonly int electionTimeout;
    private readonly ulong maxMsgSize;
    private readonly bool checkQuorum;
    private readonly bool preVote;
    private readonly bool disableProposalForwarding;

    // Ticks since the last reset: election timer (followers/candidates; check-quorum for leaders) and heartbeat timer (leaders).
    private int electionElapsed;
    private int heartbeatElapsed;

    // Drawn from [electionTimeout, 2*electionTimeout) at each reset, so split votes resolve (paper 5.2).
    private int randomizedElectionTimeout;

    // The current role's behaviour.
    private Func<Message, StepResult> step;
    private Action tick;

    // ReadIndex requests received before this leader committed an entry of its term; answered once it has.
    private readonly List<Message> pendingReadIndexMessages = [];

    private readonly List<Entry> scratch = [];

    public Raft(RaftConfig config, IRaftStorage storage, IElectionRandom random)
    {
        config.Validate();
        Id = config.Id;
        this.random = random;
        heartbeatTimeout = config.HeartbeatTick;
        electionTimeout = config.ElectionTick;
        maxMsgSize = config.MaxSizePerMsg;
        checkQuorum = config.CheckQuorum;
        preVote = config.PreVote;
        disableProposalForwarding = config.DisableProposalForwarding;
        Log = new RaftLog(storage, config.MaxCommittedSizePerReady);
        Tracker = new ProgressTracker(config.MaxInflightMsgs);
        ReadOnly = new ReadOnlyQueue();

        var (hs, cs) = storage.InitialState();
        var err = new ConfChanger(Tracker, Log.LastIndex()).Restore(cs, out var cfg, out var prs);
        if (err is not null)
        {
            throw new RaftInvariantException("stored-config-valid", $"stored conf state {cs} is invalid: {err}");
        }

        SwitchToConfig(cfg, prs);
        if (!hs.IsEmpty)
        {
            LoadState(hs);
        }

        if (config.Applied > 0)
        {
            Log.AppliedTo(Math.Min(config.Applied, Log.Committed));
        }

        step = StepFollower;
        tick = TickElection;
        BecomeFollower(Term, None);
    }

    public ulong Id { get; }

    /// <summary>Figure 2: currentTerm, "latest term server has seen".</summary>
    public ulong Term { get; private set; }

    /// <summary>Figure 2: votedFor, "candidateId that received vote in current term (or null)".</summary>
    public ulong Vote { get; private set; }

    public ulong Lead { get; private set; }

    public RaftRole Role { get; private set; }

    public bool IsLearner { get; private set; }

    public RaftLog Log { get; }

    public ProgressTracker Tracker { get; }

    public ReadOnlyQueue ReadOnly { get; private set; }

    /// <summary>Non-zero while a leader transfer to this member is in progress.</summary>
    public ulong LeadTransferee { get; private set; }

    /// <summary>Index of the latest conf change appended by this leader; a new one waits until it is applied.</summary>
    public ulong PendingConfIndex { get; private set; }

    public List<Message> Messages { get; private set; } = [];

    public List<ReadState> ReadStates { get; private set; } = [];

    public HardState HardState => new(Term, Vote, Log.Committed);

    public SoftState SoftState => new(Lead, Role);

    /// <summary>Hands out and clears the outbox (used by RaftNode when building a Ready).</summary>
    public List<Message> TakeMessages()
    {
        var m = Messages;
        Messages = [];
        return m;
    }

    public List<ReadState> TakeReadStates()
    {
        var r = ReadStates;
        ReadStates = [];
        return r;
    }

    // ---------------------------------------------------------------- role transitions

    private void LoadState(HardState hs)
    {
        if (hs.Commit < Log.Committed || hs.Commit > Log.LastIndex())
        {
            throw new RaftInvariantException("stored-commit-within-log", $"state.commit {hs.Commit} is out of range [{Log.Committed}, {Log.LastIndex()}]");
        }

        Log.CommitTo(hs.Commit);
        Term = hs.Term;
        Vote = hs.Vote;
    }

    private void Reset(ulong term)
    {
        if (Term != term)
        {
            Term = term;
            Vote = None;
        }

        Lead = None;
        electionElapsed = 0;
        heartbeatElapsed = 0;
        randomizedElectionTimeout = electionTimeout + random.Next(electionTimeout);
        LeadTransferee = None;
        Tracker.ResetVotes();
        var last = Log.LastIndex();
        foreach (var id in Tracker.Ids)
        {
            var pr = Tracker.Progress[id];
            var fresh = new Progress(last + 1, Tracker.MaxInflight, pr.IsLearner);
            if (id == Id)
            {
                fresh.Match = last;
            }

            Tracker.Progress[id] = fresh;
        }

        PendingConfIndex = 0;
        ReadOnly = new ReadOnlyQueue();
        pendingReadIndexMessages.Clear();
    }

    private void BecomeFollower(ulong term, ulong lead)
    {
        if (term < Term)
        {
            // Figure 2: currentTerm "increases monotonically"; a lower one would allow a second vote in a term.
            throw new RaftInvariantException("term-never-decreases", $"becoming follower at term {term} from term {Term}");
        }

        step = StepFollower;
        Reset(term);
        tick = TickElection;
        Lead = lead;
        Role = RaftRole.Follower;
    }

    private void BecomeCandidate()
    {
        if (Role == RaftRole.Leader)
        {
            throw new RaftInvariantException("no-leader-to-candidate", "invalid transition [leader -> candidate]");
        }

        step = StepCandidate;
        Reset(Term + 1);
        tick = TickElection;
        Vote = Id;
        Role = RaftRole.Candidate;
    }

    private void BecomePreCandidate()
    {
        if (Role == RaftRole.Leader)
        {
            throw new RaftInvariantException("no-leader-to-precandidate", "invalid transition [leader -> pre-candidate]");
        }

        // A pre-candidate changes neither term nor vote (section 9.6): it only asks whether it could win.
        step = StepCandidate;
        Tracker.ResetVotes();
        tick = TickElection;
        Lead = None;
        Role = RaftRole.PreCandidate;
    }

    private void BecomeLeader()
    {
        if (Role == RaftRole.Follower)
        {
            throw new RaftInvariantException("no-follower-to-leader", "invalid transition [follower -> leader]");
        }

        step = StepLeader;
        Reset(Term);
        tick = TickHeartbeat;
        Lead = Id;
        Role = RaftRole.Leader;
        Tracker.Progress[Id].BecomeReplicate();
        Tracker.Progress[Id].RecentActive = true;

        // Conservatively treat any uncommitted entry as a possible conf change: no new one until it is applied.
        PendingConfIndex = Log.LastIndex();

        // Section 6.4 / 8: a no-op entry of the new term lets the leader learn what is committed.
        AppendEntry([new Entry(0, 0, EntryType.Normal, ReadOnlyMemory<byte>.Empty)]);
    }

    private bool Promotable() =>
        Tracker.Progress.TryGetValue(Id, out var pr) && !pr.IsLearner && Log.PendingSnapshot is null;

    // ---------------------------------------------------------------- ticks

    public void Tick()
    {
        tick();
        AssertInvariants();
    }

    private bool PastElectionTimeout() => electionElapsed >= randomizedElectionTimeout;

    private void TickElection()
    {
        electionElapsed++;
        if (Promotable() && PastElectionTimeout())
        {
            electionElapsed = 0;
            Step(new Message { From = Id, Type = MessageType.Hup });
        }
    }

    private void TickHeartbeat()
    {
        heartbeatElapsed++;
        electionElapsed++;
        if (electionElapsed >= electionTimeout)
        {
            electionElapsed = 0;
            if (checkQuorum)
            {
                Step(new Message { From = Id, Type = MessageType.CheckQuorum });
            }

            // Section 3.10: abort a transfer that did not finish within an election timeout.
            if (Role == RaftRole.Leader && LeadTransferee != None)
            {
                LeadTransferee = None;
            }
        }

        if (Role != RaftRole.Leader)
        {
            return;
        }

        if (heartbeatElapsed >= heartbeatTimeout)
        {
            heartbeatElapsed = 0;
            Step(new Message { From = Id, Type = MessageType.Beat });
        }
    }

    // ---------------------------------------------------------------- sending

    private void Send(Message m)
    {
        m.From = Id;
        if (m.Type is MessageType.Vote or MessageType.VoteResp or MessageType.PreVote or MessageType.PreVoteResp)
        {
            if (m.Term == 0)
            {
                // Vote messages carry the term they are for (a pre-vote's is Term+1), set explicitly.
                throw new RaftInvariantException("vote-message-has-term", $"term should be set when sending {m.Type}");
            }
        }
        else
        {
            if (m.Term != 0)
            {
                throw new RaftInvariantException("only-votes-preset-term", $"term should not be set when sending {m.Type} (was {m.Term})");
            }

            // Proposals and read requests forwarded to the leader are treated as local messages there.
            if (m.Type is not MessageType.Prop and not MessageType.ReadIndex)
            {
                m.Term = Term;
            }
        }

        Messages.Add(m);
    }

    private void SendAppend(ulong to) => MaybeSendAppend(to, true);

    /// <summary>Sends an append (or a snapshot if the entries are compacted) unless flow control pauses the follower.</summary>
    private bool MaybeSendAppend(ulong to, bool sendIfEmpty)
    {
        var pr = Tracker.Progress[to];
        if (pr.IsPaused())
        {
            return false;
        }

        var prevIndex = pr.Next - 1;
        var errt = Log.Term(prevIndex, out var prevTerm);
        scratch.Clear();
        var erre = Log.Entries(pr.Next, maxMsgSize, scratch);
        if (scratch.Count == 0 && !sendIfEmpty)
        {
            return false;
        }

        if (errt != StorageStatus.Ok || erre != StorageStatus.Ok)
        {
            // The entries are compacted: send a snapshot (section 5.1), but only to a live follower.
            if (!pr.RecentActive)
            {
                return false;
            }

            var snap = Log.Snapshot();
            if (snap.IsEmpty)
            {
                throw new RaftInvariantException("snapshot-covers-compacted-log", $"need non-empty snapshot to send to {to}; first index {Log.FirstIndex()}");
            }

            Send(new Message { To = to, Type = MessageType.Snap, Snapshot = snap });
            pr.BecomeSnapshot(snap.Index);
            return true;
        }

        var ents = scratch.Count == 0 ? [] : scratch.ToArray();
        Send(new Message
        {
            To = to,
            Type = MessageType.App,
            Index = prevIndex,
            LogTerm = prevTerm,
            Entries = ents,
            Commit = Log.Committed,
        });
        pr.SentEntries(ents.Length);
        return true;
    }

    private void SendHeartbeat(ulong to, ulong context)
    {
        // A follower may not have the leader's whole log yet: never tell it to commit past what it matches.
        var commit = Math.Min(Tracker.Progress[to].Match, Log.Committed);
        Send(new Message { To = to, Type = MessageType.Heartbeat, Commit = commit, Context = context });
    }

    private void BcastAppend()
    {
        foreach (var id in Tracker.Ids)
        {
            if (id != Id)
            {
                SendAppend(id);
            }
        }
    }

    private void BcastHeartbeat(ulong context)
    {
        foreach (var id in Tracker.Ids)
        {
            if (id != Id)
            {
                SendHeartbeat(id, context);
            }
        }
    }

    // ---------------------------------------------------------------- log

    private bool MaybeCommit() => Log.MaybeCommit(Tracker.Committed(), Term);

    private void AppendEntry(ReadOnlySpan<Entry> es)
    {
        var li = Log.LastIndex();
        var stamped = new Entry[es.Length];
        for (var i = 0; i < es.Length; i++)
        {
            stamped[i] = es[i] with { Term = Term, Index = li + 1 + (ulong)i };
        }

        li = Log.Append(stamped);

        // The leader's own entries count toward the quorum at once: the Ready contract persists
        // them before anything observable (messages, applying) happens.
        Tracker.Progress[Id].MaybeUpdate(li);
        MaybeCommit();
    }

    private bool CommittedEntryInCurrentTerm() => Log.ZeroTermOnOutOfBounds(Log.Committed) == Term;

    /// <summary>Called by RaftNode.Advance after the host applied up to index.</summary>
    public void AppliedTo(ulong index)
    {
        Log.AppliedTo(index);

        // Auto-leave (section 4.3): once entering the joint config is applied, propose leaving it.
        if (Role == RaftRole.Leader && Tracker.Config.AutoLeave && index >= PendingConfIndex)
        {
            AppendEntry([new Entry(0, 0, EntryType.ConfChange, ReadOnlyMemory<byte>.Empty)]);
            PendingConfIndex = Log.LastIndex();
            BcastAppend();
        }

        AssertInvariants();
    }

    /// <summary>
    /// Takes a committed conf change into effect; the host calls this when it applies the entry
    /// (section 4.1: "a server always uses the latest configuration in its log" is relaxed to
    /// "on apply", as etcd does; safety is kept by allowing one pending change at a time).
    /// Returns the new ConfState, and the reason if the change was refused (it then has no effect).
    /// </summary>
    public ConfState ApplyConfChange(ConfChange cc, out string? refused)
    {
        var changer = new ConfChanger(Tracker, Log.LastIndex());
        TrackerConfig cfg;
        Dictionary<ulong, Progress> prs;
        if (cc.IsLeaveJoint)
        {
            refused = changer.LeaveJoint(out cfg, out prs);
        }
        else if (cc.EntersJoint(out var autoLeave))
        {
            refused = changer.EnterJoint(autoLeave, cc.Changes, out cfg, out prs);
        }
        else
        {
            refused = changer.Simple(cc.Changes, out cfg, out prs);
        }

        if (refused is not null)
        {
            return Tracker.Config.ToConfState();
        }

        var cs = SwitchToConfig(cfg, prs);
        AssertInvariants();
        return cs;
    }

    private ConfState SwitchToConfig(TrackerConfig cfg, Dictionary<ulong, Progress> prs)
    {
        Tracker.Set(cfg, prs);
        var cs = cfg.ToConfState();
        var isMember = prs.TryGetValue(Id, out var pr);
        IsLearner = isMember && pr!.IsLearner;

        if ((!isMember || IsLearner) && Role == RaftRole.Leader)
        {
            // This leader was removed or demoted (section 4.2.2): it stops leading; another member takes over.
            BecomeFollower(Term, None);
            return cs;
        }

        if (Role != RaftRole.Leader || cs.Voters.Length == 0)
        {
            return cs;
        }

        // The change may have lowered the quorum, or added members that need appends.
        if (MaybeCommit())
        {
            BcastAppend();
        }
        else
        {
            foreach (var id in Tracker.Ids)
            {
                if (id != Id)
                {
                    MaybeSendAppend(id, false);
                }
            }
        }

        if (LeadTransferee != None && !cfg.IsVoter(LeadTransferee))
        {
            LeadTransferee = None;
        }

        return cs;
    }

    private bool HasUnappliedConfChanges()
    {
        if (Log.Applied >= Log.Committed)
        {
            return false;
        }

        var lo = Math.Max(Log.Applied + 1, Log.FirstIndex());
        if (lo > Log.Committed)
        {
            return false;
        }

        var ents = new List<Entry>();
        if (Log.Slice(lo, Log.Committed + 1, ulong.MaxValue, ents) != StorageStatus.Ok)
        {
            throw new RaftInvariantException("committed-entries-readable", $"reading [{lo}, {Log.Committed}] for pending conf changes");
        }

        foreach (var e in ents)
        {
            if (e.Type == EntryType.ConfChange)
            {
                return true;
            }
        }

        return false;
    }

    // ---------------------------------------------------------------- elections

    private enum CampaignKind
    {
        PreElection,
        Election,
        Transfer,
    }

    private void Hup(CampaignKind kind)
    {
        if (Role == RaftRole.Leader || !Promotable())
        {
            return;
        }

        // A member that has not applied a committed conf change may be using a stale config.
        if (HasUnappliedConfChanges())
        {
            return;
        }

        Campaign(kind);
    }

    private void Campaign(CampaignKind kind)
    {
        if (!Promotable())
        {
            return;
        }

        ulong term;
        MessageType voteMsg;
        if (kind == CampaignKind.PreElection)
        {
            BecomePreCandidate();
            voteMsg = MessageType.PreVote;
            term = Term + 1; // a pre-vote asks for the term it would campaign in, without taking it
        }
        else
        {
            BecomeCandidate();
            voteMsg = MessageType.Vote;
            term = Term;
        }

        if (Poll(Id, true) == VoteResult.Won)
        {
            // Single-voter config: we won outright.
            if (kind == CampaignKind.PreElection)
            {
                Campaign(CampaignKind.Election);
            }
            else
            {
                BecomeLeader();
            }

            return;
        }

        var lastIndex = Log.LastIndex();
        var lastTerm = Log.LastTerm();
        foreach (var id in Tracker.VoterIds())
        {
            if (id == Id)
            {
                continue;
            }

            Send(new Message
            {
                To = id,
                Type = voteMsg,
                Term = term,
                Index = lastIndex,
                LogTerm = lastTerm,
                Transfer = kind == CampaignKind.Transfer,
            });
        }
    }

    private VoteResult Poll(ulong id, bool granted)
    {
        Tracker.RecordVote(id, granted);
        return Tracker.TallyVotes();
    }

    // ---------------------------------------------------------------- step

    /// <summary>The single entry point for messages, local and remote.</summary>
    public StepResult Step(Message m)
    {
        var r = StepInner(m);
        AssertInvariants();
        return r;
    }

    private StepResult StepInner(Message m)
    {
        if (m.Term == 0)
        {
            // Local message.
        }
        else if (m.Term > Term)
        {
            if (m.Type is MessageType.Vote or MessageType.PreVote)
            {
                // Section 4.2.3: with a live leader, ignore votes (unless a transfer asks for them),
                // so a removed or partitioned member cannot depose a working leader.
                var inLease = checkQuorum && Lead != None && electionElapsed < electionTimeout;
                if (!m.Transfer && inLease)
                {
                    return StepResult.Ok;
                }
            }

            if (m.Type == MessageType.PreVote)
            {
                // Never change our term in response to a pre-vote.
            }
            else if (m.Type == MessageType.PreVoteResp && !m.Reject)
            {
                // The term in a granted pre-vote response is the one we will campaign in once we have a quorum.
            }
            else if (m.Type is MessageType.App or MessageType.Heartbeat or MessageType.Snap)
            {
                // Figure 2, all servers: "If RPC request or response contains term T > currentTerm: set currentTerm = T, convert to follower".
                BecomeFollower(m.Term, m.From);
            }
            else
            {
                BecomeFollower(m.Term, None);
            }
        }
        else if (m.Term < Term)
        {
            if ((checkQuorum || preVote) && m.Type is MessageType.Heartbeat or MessageType.App)
            {
                // A stale leader cut off by a partition would never learn of the newer term if we
                // stayed silent (we ignore its votes under pre-vote/check-quorum): answer it.
                Send(new Message { To = m.From, Type = MessageType.AppResp });
            }
            else if (m.Type == MessageType.PreVote)
            {
                // Reject so the pre-candidate learns our term and does not stay stuck.
                Send(new Message { To = m.From, Term = Term, Type = MessageType.PreVoteResp, Reject = true });
            }

            // Figure 2: "Reply false if term < currentTerm"; everything else is simply ignored.
            return StepResult.Ok;
        }

        switch (m.Type)
        {
            case MessageType.Hup:
                Hup(preVote ? CampaignKind.PreElection : CampaignKind.Election);
                return StepResult.Ok;

            case MessageType.Vote:
            case MessageType.PreVote:
                {
                    // Figure 2, RequestVote: "If votedFor is null or candidateId, and candidate's log is
                    // at least as up-to-date as receiver's log, grant vote".
                    var canVote = Vote == m.From
                        || (Vote == None && Lead == None)
                        || (m.Type == MessageType.PreVote && m.Term > Term);
                    if (canVote && Log.IsUpToDate(m.Index, m.LogTerm))
                    {
                        // A pre-vote answer carries the asked-for term, so the pre-candidate counts it.
                        Send(new Message { To = m.From, Term = m.Term, Type = Message.VoteResponseType(m.Type) });
                        if (m.Type == MessageType.Vote)
                        {
                            electionElapsed = 0;
                            Vote = m.From;
                        }
                    }
                    else
                    {
                        Send(new Message { To = m.From, Term = Term, Type = Message.VoteResponseType(m.Type), Reject = true });
                    }

                    return StepResult.Ok;
                }

            default:
                return step(m);
        }
    }

    private StepResult StepLeader(Message m)
    {
        switch (m.Type)
        {
            case MessageType.Beat:
                BcastHeartbeat(ReadOnly.LastPendingContext());
                return StepResult.Ok;

            case MessageType.CheckQuorum:
                if (!Tracker.QuorumActive(Id))
                {
                    // Section 6.2: a leader that cannot reach a quorum for an election timeout steps down.
                    BecomeFollower(Term, None);
                }

                foreach (var id in Tracker.Ids)
                {
                    if (id != Id)
                    {
                        Tracker.Progress[id].RecentActive = false;
                    }
                }

                return StepResult.Ok;

            case MessageType.Prop:
                return StepProposal(m);

            case MessageType.ReadIndex:
                if (m.Context == 0)
                {
                    return StepResult.Ok; // bad input: 0 means "no read" on heartbeats, so it could never be answered
                }

                if (Tracker.IsSingleton)
                {
                    RespondToReadIndex(m, Log.Committed);
                    return StepResult.Ok;
                }

                // Section 6.4 step 1: the leader must have committed an entry of its term first.
                if (!CommittedEntryInCurrentTerm())
                {
                    pendingReadIndexMessages.Add(m);
                    return StepResult.Ok;
                }

                StartReadIndex(m);
                return StepResult.Ok;
            default:
                break;
        }

        // Everything else needs the sender's progress: messages from non-members are ignored.
        if (!Tracker.Progress.TryGetValue(m.From, out var pr))
        {
            return StepResult.Ok;
        }

        switch (m.Type)
        {
            case MessageType.AppResp:
                pr.RecentActive = true;
                if (m.Index > Log.LastIndex())
                {
                    // Bad input: nobody can have acknowledged entries we never had. Ignore it rather than
                    // let it advance Match (and the commit index) past our log.
                    return StepResult.Ok;
                }

                if (m.Reject)
                {
                    var nextProbeIdx = m.RejectHint;
                    if (m.LogTerm > 0)
                    {
                        nextProbeIdx = Log.FindConflictByTerm(m.RejectHint, m.LogTerm).Index;
                    }

                    // Figure 2: "If AppendEntries fails because of log inconsistency: decrement nextIndex and retry".
                    if (pr.MaybeDecrTo(m.Index, nextProbeIdx))
                    {
                        if (pr.State == ProgressState.Replicate)
                        {
                            pr.BecomeProbe();
                        }

                        SendAppend(m.From);
                    }
                }
                else
                {
                    var oldPaused = pr.IsPaused();
                    if (pr.MaybeUpdate(m.Index))
                    {
                        if (pr.State == ProgressState.Probe)
                        {
                            pr.BecomeReplicate();
                        }
                        else if (pr.State == ProgressState.Snapshot && pr.Match + 1 >= Log.FirstIndex())
                        {
                            // The follower caught up past our compaction point: plain appends again.
                            pr.BecomeProbe();
                            pr.BecomeReplicate();
                        }
                        else if (pr.State == ProgressState.Replicate)
                        {
                            pr.Inflights.FreeLE(m.Index);
                        }

                        if (MaybeCommit())
                        {
                            ReleasePendingReadIndexMessages();
                            BcastAppend();
                        }
                        else if (oldPaused)
                        {
                            SendAppend(m.From);
                        }

                        // Keep the pipe full while there is more to send.
                        while (MaybeSendAppend(m.From, false))
                        {
                        }

                        // Section 3.10: the transferee is caught up: tell it to campaign now.
                        if (m.From == LeadTransferee && pr.Match == Log.LastIndex())
                        {
                            Send(new Message { To = m.From, Type = MessageType.TimeoutNow });
                        }
                    }
                }

                return StepResult.Ok;

            case MessageType.HeartbeatResp:
                pr.RecentActive = true;
                pr.MsgAppFlowPaused = false;
                if (pr.State == ProgressState.Replicate && pr.Inflights.Full)
                {
                    pr.Inflights.FreeFirstOne();
                }

                if (pr.Match < Log.LastIndex())
                {
                    SendAppend(m.From);
                }

                if (m.Context == 0)
                {
                    return StepResult.Ok;
                }

                // Section 6.4 step 3: a quorum acknowledged our leadership after the read arrived.
                var acks = ReadOnly.RecvAck(m.From, m.Context);
                if (acks is null || Tracker.Tally(acks) != VoteResult.Won)
                {
                    return StepResult.Ok;
                }

                foreach (var p in ReadOnly.Advance(m.Context))
                {
                    RespondToReadIndex(p.Request, p.Index);
                }

                return StepResult.Ok;

            case MessageType.SnapStatus:
                if (pr.State != ProgressState.Snapshot)
                {
                    return StepResult.Ok;
                }

                if (m.Reject)
                {
                    pr.PendingSnapshot = 0;
                }

                // Either way, probe from the snapshot (or from Match after a failure), after the
                // follower's next answer: wait for it rather than sending appends blindly.
                pr.BecomeProbe();
                pr.MsgAppFlowPaused = true;
                return StepResult.Ok;

            case MessageType.Unreachable:
                if (pr.State == ProgressState.Replicate)
                {
                    pr.BecomeProbe();
                }

                return StepResult.Ok;

            case MessageType.TransferLeader:
                {
                    if (pr.IsLearner)
                    {
                        return StepResult.Ok; // a learner cannot lead
                    }

                    var transferee = m.From;
                    if (LeadTransferee != None)
                    {
                        if (LeadTransferee == transferee)
                        {
                            return StepResult.Ok; // already in progress
                        }

                        LeadTransferee = None;
                    }

                    if (transferee == Id)
                    {
                        return StepResult.Ok;
                    }

                    // Section 3.10: stop accepting proposals, bring the target up to date, then TimeoutNow.
                    // The transfer must finish within an election timeout or is aborted.
                    electionElapsed = 0;
                    LeadTransferee = transferee;
                    if (pr.Match == Log.LastIndex())
                    {
                        Send(new Message { To = transferee, Type = MessageType.TimeoutNow });
                    }
                    else
                    {
                        SendAppend(transferee);
                    }

                    return StepResult.Ok;
                }

            default:
                return StepResult.Ok;
        }
    }

    private StepResult StepProposal(Message m)
    {
        if (m.Entries.Length == 0)
        {
            return StepResult.MalformedMessage; // local callers always propose something; a peer sent this
        }

        if (!Tracker.Progress.ContainsKey(Id))
        {
            return StepResult.NotMember;
        }

        if (LeadTransferee != None)
        {
            return StepResult.LeaderTransferring;
        }

        // Validate the whole batch before changing anything: a change refused after an earlier
        // one was accepted must not leave PendingConfIndex pointing at an entry never appended.
        var pendingConfIndex = PendingConfIndex;
        for (var i = 0; i < m.Entries.Length; i++)
        {
            var e = m.Entries[i];
            if (e.Type != EntryType.ConfChange)
            {
                continue;
            }

            if (!ConfChange.TryDecode(e.Data.Span, out var cc))
            {
                return StepResult.ConfChangeRefused;
            }

            // Section 4.1: at most one change pending; joint configs must be left before the next one.
            var alreadyPending = pendingConfIndex > Log.Applied;
            var alreadyJoint = Tracker.Config.IsJoint;
            var wantsLeaveJoint = cc.IsLeaveJoint;
            if (alreadyPending || (alreadyJoint && !wantsLeaveJoint) || (!alreadyJoint && wantsLeaveJoint))
            {
                return StepResult.ConfChangeRefused;
            }

            pendingConfIndex = Log.LastIndex() + (ulong)i + 1;
        }

        PendingConfIndex = pendingConfIndex;
        AppendEntry(m.Entries);
        BcastAppend();
        return StepResult.Ok;
    }

    private void StartReadIndex(Message m)
    {
        ReadOnly.Add(Log.Committed, m);
        ReadOnly.RecvAck(Id, m.Context);
        BcastHeartbeat(m.Context);
    }

    private void ReleasePendingReadIndexMessages()
    {
        if (pendingReadIndexMessages.Count == 0 || !CommittedEntryInCurrentTerm())
        {
            return;
        }

        var msgs = pendingReadIndexMessages.ToArray();
        pendingReadIndexMessages.Clear();
        foreach (var m in msgs)
        {
            StartReadIndex(m);
        }
    }

    private void RespondToReadIndex(Message req, ulong readIndex)
    {
        if (req.From == None || req.From == Id)
        {
            ReadStates.Add(new ReadState(readIndex, req.Context));
            return;
        }

        Send(new Message { To = req.From, Type = MessageType.ReadIndexResp, Index = readIndex, Context = req.Context });
    }

    private StepResult StepCandidate(Message m)
    {
        // Pre-candidates count only pre-vote answers; candidates only vote answers.
        var myVoteResp = Role == RaftRole.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
        switch (m.Type)
        {
            case MessageType.Prop:
            case MessageType.ReadIndex:
            case MessageType.TransferLeader:
                return StepResult.NoLeader;
            case MessageType.App:
                // Figure 2, candidates: "If AppendEntries RPC received from new leader: convert to follower".
                BecomeFollower(m.Term, m.From);
                HandleAppendEntries(m);
                return StepResult.Ok;
            case MessageType.Heartbeat:
                BecomeFollower(m.Term, m.From);
                HandleHeartbeat(m);
                return StepResult.Ok;
            case MessageType.Snap:
                BecomeFollower(m.Term, m.From);
                HandleSnapshot(m);
                return StepResult.Ok;
            default:
                if (m.Type != myVoteResp)
                {
                    return StepResult.Ok;
                }

                switch (Poll(m.From, !m.Reject))
                {
                    case VoteResult.Won:
                        if (Role == RaftRole.PreCandidate)
                        {
                            Campaign(CampaignKind.Election);
                        }
                        else
                        {
                            // Figure 2, candidates: "If votes received from majority of servers: become leader".
                            BecomeLeader();
                            BcastAppend();
                        }

                        break;
                    case VoteResult.Lost:
                        // A rejection from a higher term already made us a follower in StepInner;
                        // losing in our own term: go back to following (term unchanged).
                        BecomeFollower(Term, None);
                        break;
                    default:
                        break;
                }

                return StepResult.Ok;
        }
    }

    private StepResult StepFollower(Message m)
    {
        switch (m.Type)
        {
            case MessageType.Prop:
                if (Lead == None)
                {
                    return StepResult.NoLeader;
                }

                if (disableProposalForwarding)
                {
                    return StepResult.NotLeader;
                }

                m.To = Lead;
                Send(m);
                return StepResult.Ok;
            case MessageType.App:
                electionElapsed = 0;
                Lead = m.From;
                HandleAppendEntries(m);
                return StepResult.Ok;
            case MessageType.Heartbeat:
                electionElapsed = 0;
                Lead = m.From;
                HandleHeartbeat(m);
                return StepResult.Ok;
            case MessageType.Snap:
                electionElapsed = 0;
                Lead = m.From;
                HandleSnapshot(m);
                return StepResult.Ok;
            case MessageType.TransferLeader:
                if (Lead == None)
                {
                    return StepResult.NoLeader;
                }

                // Forwarding stamps our id as the sender, and the sender is the transferee: so only
                // a request to make this member the leader can be forwarded; others go to the leader.
                if (m.From != Id)
                {
                    return StepResult.NotLeader;
                }

                m.To = Lead;
                Send(m);
                return StepResult.Ok;
            case MessageType.TimeoutNow:
                // Section 3.10: start an election at once, without pre-vote, and with a flag that
                // lets voters disregard the current leader's lease.
                Hup(CampaignKind.Transfer);
                return StepResult.Ok;
            case MessageType.ReadIndex:
                if (Lead == None)
                {
                    return StepResult.NoLeader;
                }

                m.To = Lead;
                Send(m);
                return StepResult.Ok;
            case MessageType.ReadIndexResp:
                ReadStates.Add(new ReadState(m.Index, m.Context));
                return StepResult.Ok;
            default:
                return StepResult.Ok;
        }
    }

    // ---------------------------------------------------------------- follower handlers

    private void HandleAppendEntries(Message m)
    {
        if (!WellFormedEntries(m))
        {
            return; // bad input: not something a leader can have sent; ignore it
        }

        if (m.Index < Log.Committed)
        {
            // Everything up to our commit index already matches the leader's (log matching).
            Send(new Message { To = m.From, Type = MessageType.AppResp, Index = Log.Committed });
            return;
        }

        // Figure 2, AppendEntries receiver rules 2-5.
        if (Log.MaybeAppend(m.Index, m.LogTerm, m.Commit, m.Entries, out var lastNew))
        {
            Send(new Message { To = m.From, Type = MessageType.AppResp, Index = lastNew });
            return;
        }

        // Reject, with a hint that lets the leader skip a whole term of mismatching entries.
        var hintIndex = Math.Min(m.Index, Log.LastIndex());
        var (hi, ht) = Log.FindConflictByTerm(hintIndex, m.LogTerm);
        Send(new Message { To = m.From, Type = MessageType.AppResp, Index = m.Index, Reject = true, RejectHint = hi, LogTerm = ht });
    }

    /// <summary>Entries must follow Index contiguously, with terms non-decreasing, at least LogTerm and at most the message's term.</summary>
    private static bool WellFormedEntries(Message m)
    {
        var prevTerm = m.LogTerm;
        for (var i = 0; i < m.Entries.Length; i++)
        {
            var e = m.Entries[i];
            if (e.Index != m.Index + (ulong)i + 1 || e.Term < prevTerm || e.Term > m.Term)
            {
                return false;
            }

            prevTerm = e.Term;
        }

        return true;
    }

    private void HandleHeartbeat(Message m)
    {
        // The leader sends at most min(Match, its commit), so a commit beyond our log is not from
        // a correct leader of this term: clamping it would commit entries it never vouched for.
        if (m.Commit <= Log.LastIndex())
        {
            Log.CommitTo(m.Commit);
        }

        Send(new Message { To = m.From, Type = MessageType.HeartbeatResp, Context = m.Context });
    }

    private void HandleSnapshot(Message m)
    {
        if (m.Snapshot is { } s && Restore(s))
        {
            Send(new Message { To = m.From, Type = MessageType.AppResp, Index = Log.LastIndex() });
        }
        else
        {
            // Stale or unusable snapshot: tell the leader where we are instead.
            Send(new Message { To = m.From, Type = MessageType.AppResp, Index = Log.Committed });
        }
    }

    /// <summary>Figure 13 (InstallSnapshot) receiver rules; false if the snapshot is not installed.</summary>
    private bool Restore(Snapshot s)
    {
        if (s.Index <= Log.Committed)
        {
            return false; // stale: we already have (and committed) everything it covers
        }

        if (Role != RaftRole.Follower)
        {
            // Only a follower installs snapshots; defensively step down first.
            BecomeFollower(Term + 1, None);
            return false;
        }

        // Defence in depth: a snapshot whose config excludes us is not ours to install.
        var cs = s.Metadata.ConfState;
        if (!cs.Contains(Id))
        {
            return false;
        }

        // Validate the config before anything else (after a restore the last index is s.Index): a
        // snapshot with an impossible config is refused and changes nothing. Regression: the
        // shortcut below once ran first and committed up to such a snapshot's index.
        var err = new ConfChanger(Tracker, s.Index).Restore(cs, out var cfg, out var prs);
        if (err is not null)
        {
            return false;
        }

        // "If existing log entry has same index and term as snapshot's last included entry, retain log entries following it."
        if (Log.MatchTerm(s.Index, s.Term))
        {
            Log.CommitTo(s.Index);
            return false;
        }

        Log.Restore(s);
        SwitchToConfig(cfg, prs);
        return true;
    }

    // ---------------------------------------------------------------- invariants

    /// <summary>Checks the invariants every transition must keep (Debug builds only).</summary>
    [Conditional("DEBUG")]
    public void AssertInvariants()
    {
        if (Log.Committed > Log.LastIndex())
        {
            throw new RaftInvariantException("commit-within-log", $"committed {Log.Committed} > last index {Log.LastIndex()}");
        }

        if (Log.Applied > Log.Committed)
        {
            throw new RaftInvariantException("applied-within-committed", $"applied {Log.Applied} > committed {Log.Committed}");
        }

        if (Role == RaftRole.Leader)
        {
            if (Lead != Id)
            {
                throw new RaftInvariantException("leader-knows-itself", $"leader {Id} has lead {Lead}");
            }

            if (!Tracker.Progress.TryGetValue(Id, out var self) || self.Match != Log.LastIndex())
            {
                throw new RaftInvariantException("leader-matches-own-log", $"leader {Id} self progress does not match last index {Log.LastIndex()}");
            }

            if (Vote != Id)
            {
                throw new RaftInvariantException("leader-voted-for-itself", $"leader {Id} voted for {Vote} in term {Term}");
            }
        }

        if (Role == RaftRole.Candidate && Vote != Id)
        {
            throw new RaftInvariantException("candidate-voted-for-itself", $"candidate {Id} voted for {Vote}");
        }

        foreach (var id in Tracker.Config.Incoming)
        {
            if (!Tracker.Progress.ContainsKey(id))
            {
                throw new RaftInvariantException("voter-has-progress", $"voter {id} has no progress");
            }
        }
    }
}
