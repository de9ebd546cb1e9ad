using Kv.Node.Raft;
using Kv.Node.Tests.Raft.Simulation;

namespace Kv.Node.Tests.Raft;

/// <summary>
/// A small, fully controlled cluster for rule tests: messages are queued in FIFO order and
/// delivered only when the test says so (Stabilize delivers until nothing is left), with
/// optional isolation and drop filters. Readies are handled per RaftNode's contract.
/// </summary>
internal sealed class RaftTestCluster
{
    private readonly Dictionary<ulong, MemoryRaftStorage> storages = [];
    private readonly Dictionary<ulong, RaftNode> nodes = [];
    private readonly HashSet<ulong> isolated = [];
    private readonly Func<RaftConfig, RaftConfig> configure;

    public RaftTestCluster(int voters, Func<RaftConfig, RaftConfig>? configure = null, int learners = 0)
    {
        this.configure = configure ?? (c => c);
        var voterIds = Enumerable.Range(1, voters).Select(i => (ulong)i).ToArray();
        var learnerIds = Enumerable.Range(voters + 1, learners).Select(i => (ulong)i).ToArray();
        var cs = new ConfState(voterIds, learnerIds, [], [], false);
        foreach (var id in voterIds.Concat(learnerIds))
        {
            var s = new MemoryRaftStorage();
            s.ApplySnapshot(new Snapshot(new SnapshotMetadata(1, 1, cs), ReadOnlyMemory<byte>.Empty));
            s.SetHardState(new HardState(1, 0, 1));
            storages[id] = s;
            Restart(id);
        }
    }

    /// <summary>Messages sent and not yet delivered, oldest first.</summary>
    public List<Message> InFlight { get; } = [];

    /// <summary>Messages to drop instead of deliver.</summary>
    public Func<Message, bool> Drop { get; set; } = _ => false;

    public Dictionary<ulong, List<Entry>> Applied { get; } = [];

    public Dictionary<ulong, List<ReadState>> ReadStates { get; } = [];

    public RaftNode this[ulong id] => nodes[id];

    public MemoryRaftStorage Storage(ulong id) => storages[id];

    public IEnumerable<ulong> Ids => nodes.Keys.Order();

    /// <summary>Adds a process with empty storage (a new member, not yet in any config).</summary>
    public void AddEmptyNode(ulong id)
    {
        storages[id] = new MemoryRaftStorage();
        Restart(id);
    }

    /// <summary>Recreates the node from its storage: everything not persisted is lost.</summary>
    public void Restart(ulong id)
    {
        var s = storages[id];
        nodes[id] = new RaftNode(configure(new RaftConfig { Id = id, ElectionTick = 10, HeartbeatTick = 1, Applied = s.Snapshot().Index }), s, new SimRandom(id));
        Applied[id] = [];
        ReadStates[id] = [];
    }

    public void Isolate(ulong id) => isolated.Add(id);

    public void Heal()
    {
        isolated.Clear();
        Drop = _ => false;
    }

    /// <summary>Handles every pending Ready once (persist, queue messages, apply, Advance).</summary>
    public bool ProcessReadies()
    {
        var any = false;
        foreach (var id in Ids.ToArray())
        {
            var n = nodes[id];
            while (n.HasReady)
            {
                any = true;
                var rd = n.Ready();
                var s = storages[id];
                if (rd.Snapshot is { } snap)
                {
                    s.ApplySnapshot(snap);
                }

                s.Append(rd.Entries);
                if (rd.HardState is { } hs)
                {
                    s.SetHardState(hs);
                }

                InFlight.AddRange(rd.Messages);
                foreach (var e in rd.CommittedEntries)
                {
                    Applied[id].Add(e);
                    if (e.Type == EntryType.ConfChange && ConfChange.TryDecode(e.Data.Span, out var cc))
                    {
                        var cs = n.ApplyConfChange(cc, out _);
                        s.CreateSnapshot(e.Index, cs, ReadOnlyMemory<byte>.Empty);
                    }
                }

                ReadStates[id].AddRange(rd.ReadStates);
                n.Advance();
            }
        }

        return any;
    }

    /// <summary>Delivers queued messages (respecting isolation and drops) and handles readies until quiet.</summary>
    public void Stabilize(int maxRounds = 1000)
    {
        for (var round = 0; round < maxRounds; round++)
        {
            var progressed = ProcessReadies();
            if (InFlight.Count == 0 && !progressed)
            {
                return;
            }

            var batch = InFlight.ToArray();
            InFlight.Clear();
            foreach (var m in batch)
            {
                Deliver(m);
            }
        }

        throw new InvalidOperationException("cluster did not stabilize");
    }

    public void Deliver(Message m)
    {
        if (isolated.Contains(m.From) || isolated.Contains(m.To) || Drop(m) || !nodes.TryGetValue(m.To, out var to))
        {
            return;
        }

        to.Step(m);
    }

    /// <summary>Makes id campaign and win (pre-vote included), then settles.</summary>
    public void Elect(ulong id)
    {
        nodes[id].Campaign();
        Stabilize();
    }

    public void Tick(ulong id, int times)
    {
        for (var i = 0; i < times; i++)
        {
            nodes[id].Tick();
        }
    }

    public void TickAll(int times)
    {
        for (var i = 0; i < times; i++)
        {
            foreach (var n in nodes.Values)
            {
                n.Tick();
            }
        }
    }

    public static byte[] Data(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    public static string Text(Entry e) => System.Text.Encoding.UTF8.GetString(e.Data.Span);

    /// <summary>The payloads a node applied, skipping empty (no-op) entries.</summary>
    public List<string> AppliedText(ulong id) =>
        Applied[id].Where(e => e.Type == EntryType.Normal && !e.Data.IsEmpty).Select(Text).ToList();

    /// <summary>Takes the messages queued so far of one type (removing them from the queue).</summary>
    public List<Message> Take(MessageType type)
    {
        ProcessReadies();
        var taken = InFlight.Where(m => m.Type == type).ToList();
        InFlight.RemoveAll(m => m.Type == type);
        return taken;
    }
}
