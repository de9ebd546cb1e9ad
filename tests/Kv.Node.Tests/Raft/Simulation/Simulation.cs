using Kv.Node.Raft;
using Kv.Node.Tests.Raft.Linearizability;

namespace Kv.Node.Tests.Raft.Simulation;

/// <summary>
/// One deterministic simulated run of a Raft group: every choice (which message to deliver,
/// drop or duplicate, which node ticks, crashes, partitions, membership changes, client
/// operations) comes from one seeded generator, so a seed replays exactly. Faults run for
/// FaultSteps, then the world heals for HealSteps and the group must make progress again.
/// Safety is checked after every event; the client history is checked for linearizability at
/// the end. Throws SafetyViolationException on any violation.
/// </summary>
internal sealed class Simulation
{
    private readonly SimOptions opt;
    private readonly SimRandom rnd;
    private readonly SimNode[] nodes;
    private readonly List<InFlight> network = [];
    private readonly HashSet<(ulong From, ulong To)> blocked = [];
    private readonly SafetyChecker safety = new();
    private readonly Client[] clients;
    private readonly List<RegisterOp> history = [];
    private readonly List<string> trace = [];
    private long now;

    // Work done so far (messages stepped, sent, Readies handled, ticks), held to opt.MaxEvents.
    private long events;
    private ulong nextReadContext = 1;
    private bool healing;
    private int completedInHeal;

    // Coverage counters (see SimStats) and what they need remembered.
    private readonly SimStats stats = new();
    private readonly HashSet<ulong> jointEnteredAt = [];
    private readonly HashSet<ulong> jointLeftAt = [];
    private readonly Dictionary<ulong, ulong> transferCampaignTerm = []; // TimeoutNow recipient -> term it campaigned in
    private ulong maxTerm;

    public Simulation(ulong seed, SimOptions? options = null)
    {
        opt = options ?? SimOptions.ForSeed(seed);
        rnd = new SimRandom(seed);
        nodes = new SimNode[opt.Universe];
        var founders = Enumerable.Range(1, opt.InitialVoters).Select(i => (ulong)i).ToArray();
        for (var i = 0; i < opt.Universe; i++)
        {
            var id = (ulong)(i + 1);
            var n = new SimNode(id, rnd.Fork()) { TickSkipRate = opt.TickSkipRate + (opt.MaxClockDrift * rnd.Next(1000) / 1000.0) };
            if (id <= (ulong)opt.InitialVoters)
            {
                // Bootstrap: the founders hold a snapshot at index 1 with the initial configuration.
                var sm = new RegisterStateMachine();
                n.Storage.ApplySnapshot(new Snapshot(new SnapshotMetadata(1, 1, ConfState.OfVoters(founders)), sm.Snapshot()));
                n.Storage.SetHardState(new HardState(1, 0, 1));
            }

            nodes[i] = n;
            Start(n);
        }

        clients = Enumerable.Range(1, opt.Clients).Select(c => new Client(c)).ToArray();
    }

    /// <summary>Stats of the finished run, for the bulk test's summary.</summary>
    public int CompletedOps => history.Count(o => !o.IsPending);

    public int CommittedEntries => safety.CommittedCount;

    /// <summary>Work done (messages stepped and sent, Readies handled, ticks), bounded by SimOptions.MaxEvents.</summary>
    public long Events => events;

    /// <summary>What the run exercised; complete once Run() returns.</summary>
    public SimStats Stats
    {
        get
        {
            stats.JointEntered = jointEnteredAt.Count;
            stats.JointLeft = jointLeftAt.Count;
            stats.ClientOps = CompletedOps;
            return stats;
        }
    }

    /// <summary>The last few events, printed with a failure.</summary>
    public IReadOnlyList<string> Trace => trace;

    public void Run()
    {
        for (var i = 0; i < opt.FaultSteps; i++)
        {
            Step(faults: true);
        }

        // Heal: everything back up, no more faults or message loss; the group must recover.
        healing = true;
        blocked.Clear();
        foreach (var n in nodes)
        {
            if (n.Raft is null)
            {
                Start(n);
            }
        }

        for (var i = 0; i < opt.HealSteps; i++)
        {
            Step(faults: false);
        }

        foreach (var c in clients)
        {
            if (c.Op is not null)
            {
                GiveUp(c);
            }
        }

        if (completedInHeal == 0)
        {
            throw new SafetyViolationException("liveness after healing", $"no client operation completed in {opt.HealSteps} steps after all faults healed; {Describe()}");
        }

        if (!RegisterLinearizabilityChecker.Check(history, out var why))
        {
            throw new SafetyViolationException("linearizability", why);
        }
    }

    public string Describe() =>
        $"in flight: {network.Count}, blocked: {blocked.Count}; " + string.Join("; ", nodes.Select(n => n.Raft is { } r
            ? $"{n.Id}:{r.Role} t{r.Term} lead{r.Lead} c{r.Committed} a{r.Applied} li{r.LastIndex} {r.ConfState}"
                + (r.Role == RaftRole.Leader ? " progress[" + string.Join(", ", r.Core.Tracker.Progress.OrderBy(p => p.Key).Select(p => $"{p.Key}:{p.Value}")) + "]" : "")
            : $"{n.Id}:down"));

    private void Note(string s)
    {
        trace.Add($"[{now}] {s}");
        if (trace.Count > 60)
        {
            trace.RemoveRange(0, 20);
        }
    }

    private void Step(bool faults)
    {
        now++;

        // A deterministic budget: a run that stops converging (a message storm, a livelock
        // between nodes) fails with its seed instead of hanging CI.
        if (events > opt.MaxEvents || network.Count > opt.MaxInFlight)
        {
            throw new SafetyViolationException("step budget", $"at step {now}: {events} events (budget {opt.MaxEvents}), {network.Count} messages in flight (budget {opt.MaxInFlight}); {Describe()}");
        }

        if (faults && rnd.Chance(opt.FaultRate))
        {
            InjectFault();
        }

        if (faults && rnd.Chance(opt.MalformedRate))
        {
            InjectMalformed();
        }

        // Logical time: every TickEvery steps each live node ticks, occasionally skipping one (clock drift).
        if (now % opt.TickEvery == 0)
        {
            foreach (var n in nodes)
            {
                if (n.Raft is { } raft && !rnd.Chance(n.TickSkipRate))
                {
                    events++;
                    raft.Tick();
                    safety.AfterStep(LiveRafts());
                }
            }
        }

        var r = rnd.Next(100);
        if (r < 50)
        {
            // Deliver a few: the network must not be the bottleneck, or queues grow without bound.
            for (var k = 1 + rnd.Next(4); k > 0; k--)
            {
                DeliverOne(faults);
            }
        }
        else if (r < 85)
        {
            HandleSomeReady();
        }
        else
        {
            DriveClients();
        }

        safety.AfterStep(LiveRafts());
        CountStep();
    }

    private void CountStep()
    {
        foreach (var n in nodes)
        {
            if (n.Raft is not { } r)
            {
                continue;
            }

            if (r.Term > maxTerm)
            {
                maxTerm = r.Term;
                stats.TermChanges++;
            }

            if (r.Role == RaftRole.Leader && transferCampaignTerm.TryGetValue(n.Id, out var t) && t == r.Term)
            {
                stats.LeaderTransfers++;
                transferCampaignTerm.Remove(n.Id);
            }
        }
    }

    private IEnumerable<RaftNode> LiveRafts()
    {
        foreach (var n in nodes)
        {
            if (n.Raft is { } r)
            {
                yield return r;
            }
        }
    }

    private SimNode? RandomUp()
    {
        var start = rnd.Next(nodes.Length);
        for (var i = 0; i < nodes.Length; i++)
        {
            var n = nodes[(start + i) % nodes.Length];
            if (n.Raft is not null)
            {
                return n;
            }
        }

        return null;
    }

    private SimNode? Leader()
    {
        SimNode? best = null;
        foreach (var n in nodes)
        {
            if (n.Raft is { Role: RaftRole.Leader } r && (best is null || r.Term > best.Raft!.Term))
            {
                best = n;
            }
        }

        return best;
    }

    // ------------------------------------------------------------------ nodes

    private void Start(SimNode n)
    {
        var snap = n.Storage.Snapshot();
        n.Pending = null;
        n.Sm = new RegisterStateMachine();
        n.Sm.Restore(snap.Data.Span, snap.Index);
        n.Raft = new RaftNode(
            new RaftConfig
            {
                Id = n.Id,
                ElectionTick = opt.ElectionTick,
                HeartbeatTick = opt.HeartbeatTick,
                Applied = snap.Index,
                MaxSizePerMsg = opt.MaxSizePerMsg,
                MaxInflightMsgs = opt.MaxInflight,
                CheckQuorum = true,
                PreVote = true,
            },
            n.Storage,
            n.ElectionRandom);
        Note($"start {n.Id} snap={snap.Index} hs={n.Storage.HardState} last={n.Storage.LastIndex()}");
    }

    private void Crash(SimNode n)
    {
        // Whatever the node did not persist (unstable entries, volatile state) is lost.
        var unstable = n.Raft!.Core.Log.Unstable.Entries;
        if (unstable.Count > 0 && (n.Storage.Term(unstable[^1].Index, out var st) != StorageStatus.Ok || st != unstable[^1].Term))
        {
            stats.LossyCrashes++;
        }

        if (n.Pending is { } p)
        {
            stats.CrashesMidReady++;
            Note($"crash {n.Id} before {p.Phase} of its Ready");
        }

        n.Pending = null;
        n.Raft = null;
        Note($"crash {n.Id}");
        foreach (var c in clients)
        {
            if (c.Op is { } op && op.Node == n.Id)
            {
                GiveUp(c);
            }
        }
    }

    private void HandleSomeReady()
    {
        var start = rnd.Next(nodes.Length);
        for (var i = 0; i < nodes.Length; i++)
        {
            var n = nodes[(start + i) % nodes.Length];
            if (n.Raft is not { } raft)
            {
                continue;
            }

            if (n.Pending is null && raft.HasReady)
            {
                var rd = raft.Ready();
                events += 1 + rd.Messages.Count + rd.Entries.Count + rd.CommittedEntries.Count;
                n.Pending = new PendingReady(rd);
            }

            if (n.Pending is not null)
            {
                ContinueReady(n);
                return;
            }
        }
    }

    /// <summary>
    /// The host side of RaftNode's contract, one phase at a time: persist, send, apply, Advance.
    /// Half the time the rest of the Ready runs now; otherwise one phase, so the scheduler puts
    /// other events (messages, ticks, proposals, crashes) between Ready() and Advance() and
    /// between the phases, as the contract allows and a real host's pipelining does.
    /// </summary>
    private void ContinueReady(SimNode n)
    {
        var all = rnd.Chance(0.5);
        do
        {
            var p = n.Pending!;
            switch (p.Phase)
            {
                case ReadyPhase.Persist:
                    Persist(n, p.Ready);
                    break;
                case ReadyPhase.Send:
                    Send(p.Ready);
                    break;
                case ReadyPhase.Apply:
                    Apply(n, p.Ready);
                    break;
                default:
                    n.Pending = null;
                    Advance(n);
                    continue;
            }

            p.Phase++;
            safety.AfterStep(LiveRafts());
        }
        while (all && n.Pending is not null);
    }

    private void Persist(SimNode n, Ready rd)
    {
        // 1. Persist: snapshot, entries, hard state.
        if (rd.Snapshot is { } snap)
        {
            if (!n.Storage.ApplySnapshot(snap))
            {
                throw new SafetyViolationException("snapshot ordering", $"node {n.Id} was handed snapshot {snap.Index} older than its stored {n.Storage.Snapshot().Index}");
            }
        }

        if (rd.Entries.Count > 0 && n.Storage.Term(rd.Entries[0].Index, out var had) == StorageStatus.Ok
            && rd.Entries[0].Index <= n.Storage.LastIndex() && had != rd.Entries[0].Term)
        {
            stats.TruncatedSuffixes++;
        }

        n.Storage.Append(rd.Entries);
        safety.OnPersisted(n.Id, rd.Entries, n.Storage);
        if (rd.HardState is { } hs)
        {
            if (hs.Term < n.Storage.HardState.Term || (hs.Term == n.Storage.HardState.Term && n.Storage.HardState.Vote != 0 && hs.Vote != n.Storage.HardState.Vote))
            {
                throw new SafetyViolationException("one vote per term", $"node {n.Id} hard state {n.Storage.HardState} replaced by {hs}");
            }

            n.Storage.SetHardState(hs);
        }
    }

    private void Send(Ready rd)
    {
        // 2. Send.
        foreach (var m in rd.Messages)
        {
            // Now and then the network sits on a message for hundreds of steps (several elections),
            // so it arrives stale: terms behind, about entries long since replaced or compacted.
            var stale = !healing && rnd.Chance(opt.StaleRate);
            var delay = stale ? opt.StaleDelayMin + rnd.Next(opt.StaleDelayMin * 4) : rnd.Next(opt.MaxDelay + 1);
            network.Add(new InFlight(m, now + delay) { Stale = stale });
        }
    }

    private void Apply(SimNode n, Ready rd)
    {
        var raft = n.Raft!;
        // 3. Apply.
        if (rd.Snapshot is { } s)
        {
            n.Sm.Restore(s.Data.Span, s.Index);
            stats.SnapshotInstalls++;
            Note($"{n.Id} installed snapshot {s.Index}/{s.Term} {s.Metadata.ConfState}");
        }

        foreach (var e in rd.CommittedEntries)
        {
            safety.OnApplied(n.Id, e);
            if (e.Index != n.Sm.Applied + 1)
            {
                throw new SafetyViolationException("apply in order", $"node {n.Id} applied {e.Index} after {n.Sm.Applied}");
            }

            n.Sm.Applied = e.Index;
            if (e.Type == EntryType.ConfChange)
            {
                if (!ConfChange.TryDecode(e.Data.Span, out var cc))
                {
                    throw new SafetyViolationException("conf change decodes", $"entry {e.Index}");
                }

                var wasJoint = raft.ConfState.IsJoint;
                var cs = raft.ApplyConfChange(cc, out var refused);
                if (!wasJoint && cs.IsJoint)
                {
                    jointEnteredAt.Add(e.Index);
                }
                else if (wasJoint && !cs.IsJoint)
                {
                    jointLeftAt.Add(e.Index);
                }

                Note($"{n.Id} applied conf change {cc} at {e.Index} -> {cs}" + (refused is null ? "" : $" (refused: {refused})"));

                // Keep a snapshot with the current config, so new members can be caught up.
                n.Storage.CreateSnapshot(e.Index, cs, n.Sm.Snapshot());
            }
            else if (n.Sm.Apply(e.Data.Span, out var w))
            {
                foreach (var c in clients)
                {
                    if (c.Op is { Kind: RegisterOpKind.Write } op && op.Node == n.Id && c.Id == w.Client && op.Seq == w.Seq)
                    {
                        Complete(c, w.Value);
                    }
                }
            }
        }

        foreach (var rs in rd.ReadStates)
        {
            foreach (var c in clients)
            {
                if (c.Op is { Kind: RegisterOpKind.Read } op && op.Node == n.Id && op.ReadContext == rs.Context)
                {
                    op.ReadIndex = rs.Index;
                }
            }
        }
    }

    private void Advance(SimNode n)
    {
        var raft = n.Raft!;
        // 4. Advance.
        raft.Advance();

        // Reads whose read index is now applied return the local value.
        foreach (var c in clients)
        {
            if (c.Op is { Kind: RegisterOpKind.Read, ReadIndex: > 0 } op && op.Node == n.Id && n.Sm.Applied >= op.ReadIndex)
            {
                Complete(c, n.Sm.Value);
            }
        }
    }

    // ------------------------------------------------------------------ network

    private void DeliverOne(bool faults)
    {
        if (network.Count == 0)
        {
            return;
        }

        // Pick a random deliverable message: reordering comes from the random choice and delays.
        var start = rnd.Next(network.Count);
        for (var i = 0; i < network.Count; i++)
        {
            var at = (start + i) % network.Count;
            var f = network[at];
            if (f.DeliverAt > now)
            {
                continue;
            }

            network[at] = network[^1];
            network.RemoveAt(network.Count - 1);
            var m = f.Message;
            if (m.To == 0 || m.To > (ulong)nodes.Length)
            {
                return; // an answer to a sender outside the universe (see InjectMalformed): no one receives it
            }

            var target = nodes[(int)m.To - 1];
            var dropped = target.Raft is null || blocked.Contains((m.From, m.To)) || (faults && rnd.Chance(opt.DropRate));
            if (dropped)
            {
                if (m.Type == MessageType.Snap)
                {
                    nodes[(int)m.From - 1].Raft?.ReportSnapshot(m.To, failed: true);
                }

                return;
            }

            if (faults && rnd.Chance(opt.DuplicateRate))
            {
                network.Add(new InFlight(m, now + rnd.Next(opt.MaxDelay + 1)));
            }

            events++;
            stats.StepsMidReady += target.Pending is null ? 0 : 1;
            if (f.Stale)
            {
                stats.StaleDelivered++;
                stats.StaleByTerms += m.Term < target.Raft!.Term ? 1 : 0;
            }

            var termBefore = target.Raft!.Term;
            target.Raft.Step(m);
            if (m.Type == MessageType.TimeoutNow && target.Raft.Term > termBefore)
            {
                transferCampaignTerm[target.Id] = target.Raft.Term;
            }

            safety.AfterStep(LiveRafts());

            if (m.Type == MessageType.Snap)
            {
                nodes[(int)m.From - 1].Raft?.ReportSnapshot(m.To, failed: false);
            }

            return;
        }
    }

    // ------------------------------------------------------------------ faults

    private void InjectFault()
    {
        var k = rnd.Next(100);
        if (k < 14)
        {
            var down = nodes.Count(n => n.Raft is null);
            var n = RandomUp();
            if (n is not null && down < 2)
            {
                Crash(n);
            }
        }
        else if (k < 30)
        {
            var downs = nodes.Where(n => n.Raft is null).ToArray();
            if (downs.Length > 0)
            {
                Start(rnd.Pick(downs));
            }
        }
        else if (k < 40)
        {
            // Symmetric partition: a random split, or (half the time) the leader alone, which strands
            // its freshest entries on a minority: the setting of the paper's figure 8.
            blocked.Clear();
            var leader = Leader();
            var isolateLeader = leader is not null && rnd.Chance(0.5);
            var side = nodes.Select(n => isolateLeader ? n == leader : rnd.Chance(0.5)).ToArray();
            for (var a = 0; a < nodes.Length; a++)
            {
                for (var b = 0; b < nodes.Length; b++)
                {
                    if (side[a] != side[b])
                    {
                        blocked.Add(((ulong)a + 1, (ulong)b + 1));
                    }
                }
            }

            Note($"partition {string.Join("", side.Select(s => s ? 'A' : 'B'))}");
        }
        else if (k < 47)
        {
            // One-way partition: a cannot reach b, b still reaches a.
            var a = (ulong)rnd.Next(nodes.Length) + 1;
            var b = (ulong)rnd.Next(nodes.Length) + 1;
            if (a != b)
            {
                blocked.Add((a, b));
                Note($"one-way block {a}->{b}");
            }
        }
        else if (k < 57)
        {
            blocked.Clear();
            Note("heal partitions");
        }
        else if (k < 75)
        {
            if (opt.MembershipChanges)
            {
                ProposeMembershipChange();
            }
        }
        else if (k < 85)
        {
            if (Leader() is { } l)
            {
                var voters = l.Raft!.ConfState.Voters.Where(v => v != l.Id).ToArray();
                if (voters.Length > 0)
                {
                    var to = rnd.Pick(voters);
                    Note($"transfer leader {l.Id} -> {to}: {l.Raft.TransferLeader(to)}");
                }
            }
        }
        else
        {
            Compact();
        }
    }

    /// <summary>
    /// Hands a live node a message no correct peer sends (issue 4, "Bad input"). The core must
    /// refuse it by the rules, never throw, and every safety check must still hold. Each message
    /// is detectably bad: a forged but well-formed message (a heartbeat committing entries under
    /// a real leader's term) is Byzantine and outside Raft's fault model, so none is sent.
    /// </summary>
    private void InjectMalformed()
    {
        if (RandomUp() is not { } n)
        {
            return;
        }

        var raft = n.Raft!;
        var peer = (ulong)rnd.Next(nodes.Length - 1) + 1;
        peer += peer >= n.Id ? 1UL : 0UL; // any other process
        var unknown = (ulong)(nodes.Length + 1 + rnd.Next(1000));
        var lead = raft.Lead != 0 ? raft.Lead : peer;
        var kind = rnd.Next(7);
        var m = kind switch
        {
            // Term 0 on a type that always carries a term.
            0 => new Message { Type = rnd.Pick(TermedTypes), From = peer, To = n.Id, Index = raft.LastIndex, Commit = raft.Committed + (ulong)rnd.Next(10) },

            // An append past the end of the log claiming LogTerm 0.
            1 => new Message
            {
                Type = MessageType.App, From = lead, To = n.Id, Term = raft.Term, LogTerm = 0, Index = raft.LastIndex + 1 + (ulong)rnd.Next(5),
                Entries = [new Entry(raft.LastIndex + 7, raft.Term, EntryType.Normal, RegisterStateMachine.EncodeWrite(999, 1, 0xBAD))],
            },

            // A forwarded proposal with no entries.
            2 => new Message { Type = MessageType.Prop, From = peer, To = n.Id },

            // A snapshot whose configuration is invalid: a voter that is also a learner, or no voters at all.
            3 => new Message
            {
                Type = MessageType.Snap, From = lead, To = n.Id, Term = raft.Term,
                Snapshot = new Snapshot(BadSnapshotPoint(raft, rnd.Chance(0.5) ? new ConfState([1, 2, 3], [1], [], [], false) : ConfState.Empty), new RegisterStateMachine().Snapshot()),
            },

            // An acknowledgement of entries beyond the receiver's log, from a real peer.
            4 => new Message { Type = MessageType.AppResp, From = peer, To = n.Id, Term = raft.Term, Index = raft.LastIndex + 1 + (ulong)rnd.Next(100) },

            // A response from a node that is not in the universe.
            5 => new Message { Type = rnd.Chance(0.5) ? MessageType.AppResp : MessageType.HeartbeatResp, From = unknown, To = n.Id, Term = raft.Term, Index = raft.LastIndex },

            // A request from a node that is not in the universe, with an empty log and nothing to commit.
            _ => new Message { Type = rnd.Chance(0.5) ? MessageType.Vote : MessageType.Heartbeat, From = unknown, To = n.Id, Term = raft.Term, Index = 0, LogTerm = 0, Commit = 0 },
        };

        events++;
        stats.MalformedInjected++;
        var res = raft.Step(m);
        Note($"malformed to {n.Id}: {m} -> {res}");
        if (kind == 0 && res != StepResult.MalformedMessage)
        {
            throw new SafetyViolationException("malformed input refused", $"node {n.Id} answered {res} to {m}");
        }
    }

    /// <summary>
    /// Where an invalid-config snapshot claims to end: past the log, so the core must judge its
    /// config. With opt.MalformedSnapshotInsideLog, at an uncommitted entry of the log with that
    /// entry's term: the core then takes the "same index and term" path and commits up to it
    /// before validating the config (a core bug this simulator found; see SimOptions).
    /// </summary>
    private SnapshotMetadata BadSnapshotPoint(RaftNode raft, ConfState cs)
    {
        if (opt.MalformedSnapshotInsideLog && raft.LastIndex > raft.Committed && rnd.Next(2) == 0)
        {
            var i = raft.Committed + 1 + (ulong)rnd.Next((int)(raft.LastIndex - raft.Committed));
            if (raft.Core.Log.Term(i, out var t) == StorageStatus.Ok)
            {
                return new SnapshotMetadata(i, t, cs);
            }
        }

        return new SnapshotMetadata(raft.LastIndex + 1 + (ulong)rnd.Next(20), raft.Term, cs);
    }

    // Types that always carry the sender's term.
    private static readonly MessageType[] TermedTypes =
    [
        MessageType.App, MessageType.AppResp, MessageType.Vote, MessageType.VoteResp, MessageType.PreVote, MessageType.PreVoteResp,
        MessageType.Snap, MessageType.Heartbeat, MessageType.HeartbeatResp, MessageType.ReadIndexResp, MessageType.TimeoutNow,
    ];

    private void Compact()
    {
        var n = RandomUp();
        if (n is null || n.Raft!.Core.Log.PendingSnapshot is not null)
        {
            return;
        }

        var applied = n.Sm.Applied;
        if (applied <= n.Storage.Snapshot().Index)
        {
            return;
        }

        n.Storage.CreateSnapshot(applied, n.Raft.ConfState, n.Sm.Snapshot());
        var keep = (ulong)rnd.Next(4);
        var to = applied > keep ? applied - keep : applied;
        if (to >= n.Storage.FirstIndex())
        {
            n.Storage.Compact(to);
        }

        Note($"compact {n.Id} snapshot@{applied} compact@{to}");
    }

    private void ProposeMembershipChange()
    {
        if (Leader() is not { } l)
        {
            return;
        }

        var raft = l.Raft!;
        var cs = raft.ConfState;
        var all = nodes.Select(x => x.Id).ToArray();
        var nonVoters = all.Where(id => Array.IndexOf(cs.Voters, id) < 0).ToArray();
        var outsiders = all.Where(id => !cs.Contains(id)).ToArray();
        ConfChange? cc = null;
        if (cs.IsJoint)
        {
            if (!cs.AutoLeave)
            {
                cc = ConfChange.LeaveJointChange;
            }
        }
        else
        {
            switch (rnd.Next(6))
            {
                case 0 when outsiders.Length > 0:
                    cc = ConfChange.Single(ConfChangeType.AddLearnerNode, rnd.Pick(outsiders));
                    break;
                case 1 when cs.Learners.Length > 0:
                    cc = ConfChange.Single(ConfChangeType.AddNode, rnd.Pick(cs.Learners));
                    break;
                case 2 when cs.Voters.Length > 3:
                    cc = ConfChange.Single(ConfChangeType.RemoveNode, rnd.Pick(cs.Voters));
                    break;
                case 3 when cs.Learners.Length > 0:
                    cc = ConfChange.Single(ConfChangeType.RemoveNode, rnd.Pick(cs.Learners));
                    break;
                case 4 when nonVoters.Length > 0:
                    {
                        // Replace a voter through a joint configuration (dissertation 4.3).
                        var transition = (ConfChangeTransition)rnd.Next(3);
                        var outgoing = rnd.Pick(cs.Voters);
                        var demote = rnd.Chance(0.3);
                        cc = new ConfChange(transition,
                        [
                            new ConfChangeSingle(demote ? ConfChangeType.AddLearnerNode : ConfChangeType.RemoveNode, outgoing),
                            new ConfChangeSingle(ConfChangeType.AddNode, rnd.Pick(nonVoters)),
                        ]);
                        break;
                    }

                case 5 when nonVoters.Length > 0:
                    // A single voter added via an explicit joint config.
                    cc = new ConfChange(ConfChangeTransition.JointExplicit, [new ConfChangeSingle(ConfChangeType.AddNode, rnd.Pick(nonVoters))]);
                    break;
                default:
                    break;
            }
        }

        if (cc is not null)
        {
            Note($"propose conf change {cc} at {l.Id}: {raft.ProposeConfChange(cc)}");
        }
    }

    // ------------------------------------------------------------------ clients

    private void DriveClients()
    {
        foreach (var c in clients)
        {
            if (c.Op is { } op && now - op.Invoke > opt.ClientTimeout)
            {
                GiveUp(c);
            }
        }

        var client = clients[rnd.Next(clients.Length)];
        if (client.Op is not null)
        {
            return;
        }

        // Usually ask the leader; sometimes a random node (forwarding, "no leader" answers, follower reads).
        var node = rnd.Chance(0.7) ? Leader() ?? RandomUp() : RandomUp();
        if (node is null)
        {
            return;
        }

        var raft = node.Raft!;
        if (rnd.Chance(0.5))
        {
            var seq = ++client.Seq;
            var value = ((ulong)client.Id << 32) | seq;
            var res = raft.Propose(RegisterStateMachine.EncodeWrite(client.Id, seq, value));
            if (res == StepResult.Ok)
            {
                client.Op = new ClientOp(RegisterOpKind.Write, node.Id, now) { Seq = seq, Value = value };
            }
        }
        else
        {
            var ctx = nextReadContext++;
            var res = raft.ReadIndex(ctx);
            if (res == StepResult.Ok)
            {
                client.Op = new ClientOp(RegisterOpKind.Read, node.Id, now) { ReadContext = ctx, AtFollower = raft.Role != RaftRole.Leader };
            }
        }
    }

    private void Complete(Client c, ulong value)
    {
        var op = c.Op!;
        history.Add(op.Kind == RegisterOpKind.Write
            ? RegisterOp.Write(c.Id, op.Invoke, now, op.Value)
            : RegisterOp.Read(c.Id, op.Invoke, now, value));
        if (op.Kind == RegisterOpKind.Read)
        {
            stats.FollowerReads += op.AtFollower ? 1 : 0;
            stats.NonZeroReads += value != 0 ? 1 : 0;
        }

        c.Op = null;
        if (healing)
        {
            completedInHeal++;
        }
    }

    private void GiveUp(Client c)
    {
        var op = c.Op!;
        if (op.Kind == RegisterOpKind.Write)
        {
            history.Add(RegisterOp.Write(c.Id, op.Invoke, RegisterOp.Pending, op.Value));
        }

        c.Op = null;
    }

    private sealed class SimNode(ulong id, SimRandom electionRandom)
    {
        public ulong Id { get; } = id;

        /// <summary>Durable: survives crashes.</summary>
        public MemoryRaftStorage Storage { get; } = new();

        /// <summary>Null while the process is down.</summary>
        public RaftNode? Raft { get; set; }

        public RegisterStateMachine Sm { get; set; } = new();

        /// <summary>The Ready between Ready() and Advance(), if any; lost in a crash.</summary>
        public PendingReady? Pending { get; set; }

        public SimRandom ElectionRandom { get; } = electionRandom;

        /// <summary>Fraction of global ticks this node's clock misses (its drift).</summary>
        public double TickSkipRate { get; init; }
    }

    /// <summary>The phase of its outstanding Ready a node does next (RaftNode's contract, steps 1-4).</summary>
    private enum ReadyPhase
    {
        Persist,
        Send,
        Apply,
        Advance,
    }

    /// <summary>A Ready handed out by Ready() and not yet Advanced.</summary>
    private sealed class PendingReady(Ready ready)
    {
        public Ready Ready { get; } = ready;

        public ReadyPhase Phase { get; set; }
    }

    private sealed record InFlight(Message Message, long DeliverAt)
    {
        /// <summary>Held back for hundreds of steps (see Send).</summary>
        public bool Stale { get; init; }
    }

    private sealed class Client(int id)
    {
        public int Id { get; } = id;

        public ulong Seq { get; set; }

        public ClientOp? Op { get; set; }
    }

    private sealed class ClientOp(RegisterOpKind kind, ulong node, long invoke)
    {
        public RegisterOpKind Kind { get; } = kind;

        public ulong Node { get; } = node;

        public long Invoke { get; } = invoke;

        public ulong Seq { get; init; }

        public ulong Value { get; init; }

        public ulong ReadContext { get; init; }

        public ulong ReadIndex { get; set; }

        /// <summary>A read asked of a node that was not the leader (served through ReadIndex forwarding).</summary>
        public bool AtFollower { get; init; }
    }
}
