using Kv.Node.Raft;
using Kv.Node.Ranges.RaftLog;
using Kv.Node.Storage;
using Kv.Node.Tests.Raft.Simulation;
using Kv.Node.Tests.TestSupport;

namespace Kv.Node.Tests.Ranges.RaftLog;

/// <summary>A 3-member Raft group, each member on its own Engine, restarted from its files.</summary>
public class PersistentRaftGroupTests
{
    [Fact(DisplayName = "Persistent Raft group: 3 members on their own engines elect and commit; after all restart from disk every committed entry is still there and the group carries on")]
    public void Committed_entries_survive_restart_of_all_members()
    {
        using var dir = new TempDirectory();
        using var group = new Group(dir);

        // 1. elect and commit 30 entries (in Ready batches of various sizes)
        group.Elect(1);
        var proposed = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            proposed.Add($"cmd-{i}");
            Assert.Equal(StepResult.Ok, group.Node(1).Propose(System.Text.Encoding.UTF8.GetBytes(proposed[^1])));
            if (i % 7 == 0)
            {
                group.Stabilize();
            }
        }

        group.Stabilize();
        var committed = group.Node(1).Committed;
        foreach (var id in Group.Ids)
        {
            Assert.Equal(proposed, group.AppliedText(id));
        }

        // 2. stop every member (the engines close) and start them again from their files
        group.RestartAll();
        foreach (var id in Group.Ids)
        {
            var s = group.Storage(id);
            Assert.True(s.InitialState().HardState.Commit >= committed);
            Assert.True(s.LastIndex() >= committed);
            var log = new List<Entry>();
            Assert.Equal(StorageStatus.Ok, s.Entries(s.FirstIndex(), s.LastIndex() + 1, ulong.MaxValue, log));
            Assert.Equal(proposed, log.Where(e => !e.Data.IsEmpty).Select(e => System.Text.Encoding.UTF8.GetString(e.Data.Span)).ToList());
        }

        // 3. the restarted group elects a (different) leader, re-applies from the log, and commits more
        group.Elect(2);
        group.Node(2).Propose("after-restart"u8.ToArray());
        group.Stabilize();
        foreach (var id in Group.Ids)
        {
            Assert.Equal([.. proposed, "after-restart"], group.AppliedText(id));
        }
    }

    /// <summary>Drives members per RaftNode's contract, persisting each Ready with one synced batch.</summary>
    private sealed class Group : IDisposable
    {
        public static readonly ulong[] Ids = [1, 2, 3];
        private const ulong GroupId = 42;
        private readonly TempDirectory dir;
        private readonly Dictionary<ulong, Engine> engines = [];
        private readonly Dictionary<ulong, EngineRaftStorage> storages = [];
        private readonly Dictionary<ulong, RaftNode> nodes = [];
        private readonly Dictionary<ulong, List<Entry>> applied = [];
        private readonly List<Message> network = [];

        public Group(TempDirectory dir)
        {
            this.dir = dir;
            foreach (var id in Ids)
            {
                Start(id);
            }
        }

        public RaftNode Node(ulong id) => nodes[id];

        public EngineRaftStorage Storage(ulong id) => storages[id];

        public List<string> AppliedText(ulong id) =>
            applied[id].Where(e => e.Type == EntryType.Normal && !e.Data.IsEmpty).Select(e => System.Text.Encoding.UTF8.GetString(e.Data.Span)).ToList();

        public void Elect(ulong id)
        {
            nodes[id].Campaign();
            Stabilize();
            Assert.Equal(RaftRole.Leader, nodes[id].Role);
        }

        public void Stabilize()
        {
            for (var round = 0; round < 1000; round++)
            {
                var progressed = false;
                foreach (var id in Ids)
                {
                    progressed |= HandleReadies(id);
                }

                if (network.Count == 0 && !progressed)
                {
                    return;
                }

                var batch = network.ToArray();
                network.Clear();
                foreach (var m in batch)
                {
                    nodes[m.To].Step(m);
                }
            }

            throw new InvalidOperationException("group did not stabilize");
        }

        public void RestartAll()
        {
            network.Clear();
            foreach (var id in Ids)
            {
                engines[id].Dispose();
                Start(id);
            }
        }

        public void Dispose()
        {
            foreach (var e in engines.Values)
            {
                e.Dispose();
            }
        }

        private void Start(ulong id)
        {
            var engine = Engine.Open(dir.Sub($"store{id}"));
            var storage = new EngineRaftStorage(engine, GroupId);
            if (storage.LastIndex() == 0)
            {
                // Bootstrap: the initial configuration as a snapshot at index 1.
                using var batch = engine.NewWriteBatch();
                storage.StageSnapshot(batch, new Snapshot(new SnapshotMetadata(1, 1, ConfState.OfVoters(Ids)), ReadOnlyMemory<byte>.Empty));
                storage.StageHardState(batch, new HardState(1, 0, 1));
                engine.Write(batch, sync: true);
                storage.OnPersisted();
            }

            engines[id] = engine;
            storages[id] = storage;
            applied[id] = [];
            nodes[id] = new RaftNode(new RaftConfig { Id = id, ElectionTick = 10, HeartbeatTick = 1, Applied = storage.Snapshot().Index }, storage, new SimRandom(id));
        }

        private bool HandleReadies(ulong id)
        {
            var n = nodes[id];
            var any = false;
            while (n.HasReady)
            {
                any = true;
                var rd = n.Ready();
                using (var batch = engines[id].NewWriteBatch())
                {
                    storages[id].StageReady(batch, rd);
                    engines[id].Write(batch, sync: rd.MustSync);
                    storages[id].OnPersisted();
                }

                network.AddRange(rd.Messages);
                applied[id].AddRange(rd.CommittedEntries);
                n.Advance();
            }

            return any;
        }
    }
}
