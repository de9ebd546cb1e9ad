namespace Kv.Node.Raft;

/// <summary>
/// The host's handle on one Raft member (etcd's RawNode). Pure: it does no I/O and keeps no
/// clock; the host drives it with Tick() and Step(), and does the I/O a Ready asks for.
///
/// Ordering and durability contract. For each Ready, the host must, in this order:
///  1. Persist: if Ready.Snapshot is set, install it in storage; then append Ready.Entries
///     (overwriting any suffix from the first entry's index on); then write Ready.HardState.
///     These writes must be atomic with each other (one write batch) and, when MustSync is true,
///     synced to disk before step 2. A persistent IRaftStorage may put the application's apply
///     state for step 3 of the previous Ready into the same batch.
///  2. Send Ready.Messages. Only now: a vote or an append acknowledgement promises that the
///     state above survives a crash. Messages may be lost, duplicated or reordered by the network.
///  3. Apply Ready.CommittedEntries in order (for a ConfChange entry, call ApplyConfChange);
///     install Ready.Snapshot into the state machine if set; answer Ready.ReadStates once the
///     applied index reaches each ReadState.Index.
///  4. Call Advance(). Only then call Ready() again.
/// Step, Tick, Propose and friends may be called between Ready() and Advance(); what they
/// produce appears in the next Ready.
/// </summary>
internal sealed class RaftNode
{
    private readonly Raft raft;
    private SoftState prevSoftState;
    private HardState prevHardState;

    // What the outstanding Ready handed out, remembered for Advance().
    private Ready? outstanding;

    public RaftNode(RaftConfig config, IRaftStorage storage, IElectionRandom random)
    {
        raft = new Raft(config, storage, random);
        prevSoftState = raft.SoftState;
        prevHardState = raft.HardState;
    }

    /// <summary>Largest term a peer may claim (2^62): far beyond any real cluster, far from wrapping.</summary>
    public const ulong MaxTerm = 1UL << 62;

    public ulong Id => raft.Id;

    public ulong Term => raft.Term;

    public ulong Lead => raft.Lead;

    public RaftRole Role => raft.Role;

    public ulong Committed => raft.Log.Committed;

    public ulong Applied => raft.Log.Applied;

    public ulong LastIndex => raft.Log.LastIndex();

    public ulong LeadTransferee => raft.LeadTransferee;

    public ConfState ConfState => raft.Tracker.Config.ToConfState();

    /// <summary>Whether a membership change was appended and not yet applied (a new one would be refused).</summary>
    public bool HasPendingConfChange => raft.PendingConfIndex > raft.Log.Applied;

    /// <summary>On a leader: the highest index known to be replicated on member id (0: unknown member or not leader).</summary>
    public ulong MatchOf(ulong id) =>
        raft.Role == RaftRole.Leader && raft.Tracker.Progress.TryGetValue(id, out var pr) ? pr.Match : 0;

    /// <summary>The core, for tests and the simulator's checkers (read only by convention).</summary>
    internal Raft Core => raft;

    public void Tick() => raft.Tick();

    /// <summary>Starts an election now (tests, bootstrapping a single member).</summary>
    public StepResult Campaign() => raft.Step(new Message { Type = MessageType.Hup });

    /// <summary>Proposes a command. On a follower it is forwarded to the leader (which may still lose it).</summary>
    public StepResult Propose(ReadOnlyMemory<byte> data) =>
        raft.Step(new Message { Type = MessageType.Prop, From = raft.Id, Entries = [new Entry(0, 0, EntryType.Normal, data)] });

    /// <summary>Proposes a membership change. Refused while another is pending.</summary>
    public StepResult ProposeConfChange(ConfChange cc) =>
        raft.Step(new Message { Type = MessageType.Prop, From = raft.Id, Entries = [new Entry(0, 0, EntryType.ConfChange, cc.Encode())] });

    /// <summary>Takes a committed, applied conf change into effect; refusedReason is set if it has no effect.</summary>
    public ConfState ApplyConfChange(ConfChange cc, out string? refusedReason) => raft.ApplyConfChange(cc, out refusedReason);

    /// <summary>Asks for a linearizable read point; the answer arrives as a ReadState with this context (unique per group, non-zero).</summary>
    public StepResult ReadIndex(ulong context)
    {
        if (context == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(context), "read context 0 means 'none'");
        }

        return raft.Step(new Message { Type = MessageType.ReadIndex, From = raft.Id, Context = context });
    }

    /// <summary>Asks the leader to hand leadership to transferee (section 3.10).</summary>
    public StepResult TransferLeader(ulong transferee) =>
        raft.Step(new Message { Type = MessageType.TransferLeader, From = transferee, To = raft.Lead });

    /// <summary>A message from the network. Local-only types and responses from unknown members are refused.</summary>
    public StepResult Step(Message m)
    {
        if (Message.IsLocal(m.Type))
        {
            return StepResult.LocalMessageFromNetwork;
        }

        // Only forwarded requests travel without a term. Anything else with term 0 would pass
        // every term check as if it were local: it could lower the stored term (and allow a
        // second vote in an old term) or move the commit index. Refuse it.
        if (m.Term == 0 && m.Type is not (MessageType.Prop or MessageType.ReadIndex or MessageType.TransferLeader))
        {
            return StepResult.MalformedMessage;
        }

        // No real cluster gets near this many terms; a peer claiming one would make the next
        // election's Term + 1 wrap to 0, breaking every term comparison for good (the term is persisted).
        if (m.Term > MaxTerm)
        {
            return StepResult.MalformedMessage;
        }

        if (Message.IsResponse(m.Type) && !raft.Tracker.Progress.ContainsKey(m.From))
        {
            return StepResult.PeerNotFound;
        }

        return raft.Step(m);
    }

    /// <summary>The transport could not reach id: stop streaming to it until it answers.</summary>
    public void ReportUnreachable(ulong id) => raft.Step(new Message { Type = MessageType.Unreachable, From = id });

    /// <summary>Outcome of sending a snapshot to id.</summary>
    public void ReportSnapshot(ulong id, bool failed) =>
        raft.Step(new Message { Type = MessageType.SnapStatus, From = id, Reject = failed });

    public bool HasReady
    {
        get
        {
            if (raft.SoftState != prevSoftState)
            {
                return true;
            }

            var hs = raft.HardState;
            if (!hs.IsEmpty && hs != prevHardState)
            {
                return true;
            }

            return raft.Log.PendingSnapshot is not null
                || raft.Messages.Count > 0
                || raft.Log.Unstable.Entries.Count > 0
                || raft.Log.HasNextCommittedEntries()
                || raft.ReadStates.Count > 0;
        }
    }

    /// <summary>What to persist, send and apply now; see the contract at the top of this file.</summary>
    public Ready Ready()
    {
        if (outstanding is not null)
        {
            throw new RaftInvariantException("one-ready-at-a-time", "Ready() called again before Advance()");
        }

        var soft = raft.SoftState;
        var hard = raft.HardState;
        var entries = raft.Log.UnstableEntries();
        var rd = new Ready
        {
            SoftState = soft != prevSoftState ? soft : null,
            HardState = hard != prevHardState && !hard.IsEmpty ? hard : null,
            Entries = entries,
            Snapshot = raft.Log.PendingSnapshot,
            CommittedEntries = raft.Log.NextCommittedEntries(),
            Messages = raft.TakeMessages(),
            ReadStates = raft.TakeReadStates(),
            MustSync = entries.Count > 0 || hard.Term != prevHardState.Term || hard.Vote != prevHardState.Vote,
        };
        prevSoftState = soft;
        if (rd.HardState is { } h)
        {
            prevHardState = h;
        }

        outstanding = rd;
        return rd;
    }

    /// <summary>Step 4 of the contract: the last Ready was persisted, sent and applied.</summary>
    public void Advance()
    {
        var rd = outstanding ?? throw new RaftInvariantException("advance-after-ready", "Advance() without an outstanding Ready");
        outstanding = null;
        if (rd.Snapshot is { } snap)
        {
            raft.Log.StableSnapTo(snap.Index);
            if (snap.Index > raft.Log.Applied)
            {
                raft.AppliedTo(snap.Index);
            }
        }

        if (rd.Entries.Count > 0)
        {
            var last = rd.Entries[^1];
            raft.Log.StableTo(last.Index, last.Term);
        }

        if (rd.CommittedEntries.Count > 0)
        {
            raft.AppliedTo(rd.CommittedEntries[^1].Index);
        }

        raft.AssertInvariants();
    }
}
