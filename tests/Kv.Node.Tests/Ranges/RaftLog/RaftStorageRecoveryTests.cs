using Kv.Node.Raft;
using Kv.Node.Ranges.RaftLog;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using static Kv.Node.Tests.Ranges.RaftLog.RaftStoragePair;

namespace Kv.Node.Tests.Ranges.RaftLog;

/// <summary>Restart, crash before the write, isolation between groups, and corrupt records.</summary>
public class RaftStorageRecoveryTests
{
    private static readonly ConfState Three = ConfState.OfVoters(1, 2, 3);

    [Fact(DisplayName = "Raft log recovery: a staged Ready whose batch was never written is invisible, before and after a restart")]
    public void Unwritten_batch_is_invisible()
    {
        // 1. persist a log; 2. stage a Ready and crash before writing it; 3. reopen; 4. verify
        // nothing of it is visible; 5. a later Ready is persisted normally.
        using var p = new RaftStoragePair();
        p.Append(Range(1, 6, 1));
        p.SetHardState(new HardState(1, 1, 4));

        var ready = new Ready
        {
            Snapshot = new Snapshot(new SnapshotMetadata(9, 2, Three), "s"u8.ToArray()),
            Entries = Range(10, 12, 2),
            HardState = new HardState(2, 2, 10),
        };
        using (var batch = p.Engine.NewWriteBatch())
        {
            p.Persistent.StageReady(batch, ready);
            Assert.True(batch.Count > 0);
            p.AssertSame(); // staged only: reads still show the persisted state (contract point 1)
        }

        p.Reopen();
        p.AssertSame();

        p.ApplySnapshot(ready.Snapshot);
        p.Append([.. ready.Entries]);
        p.SetHardState(ready.HardState.Value);
        p.Reopen();
        p.AssertSame();
    }

    [Fact(DisplayName = "Raft log recovery: a discarded stage leaves reads unchanged and lets a new batch be staged")]
    public void Discarded_stage()
    {
        using var p = new RaftStoragePair();
        p.Append(Range(1, 3, 1));
        using (var batch = p.Engine.NewWriteBatch())
        {
            p.Persistent.StageEntries(batch, Range(2, 9, 5));
            using var other = p.Engine.NewWriteBatch();
            Assert.Throws<InvalidOperationException>(() => p.Persistent.StageHardState(other, new HardState(5, 0, 0)));
            p.Persistent.DiscardStaged();
        }

        Assert.False(p.Persistent.HasStaged);
        p.AssertSame();
        p.Append(Range(4, 5, 1));
        p.AssertSame();
    }

    [Fact(DisplayName = "Raft log recovery: a batch of another engine is refused")]
    public void Batch_of_another_engine()
    {
        using var p = new RaftStoragePair();
        using var q = new RaftStoragePair();
        using var foreign = q.Engine.NewWriteBatch();
        Assert.Throws<ArgumentException>(() => p.Persistent.StageHardState(foreign, new HardState(1, 0, 0)));
    }

    [Fact(DisplayName = "Raft log recovery: groups sharing an engine (and one batch) never see each other's records, through compaction, snapshots and restarts")]
    public void Groups_are_isolated()
    {
        using var dir = new TempDirectory();
        var groups = new ulong[] { 1, 2, 256, ulong.MaxValue };
        var refs = groups.ToDictionary(g => g, _ => new MemoryRaftStorage());
        var engine = Engine.Open(dir.Path);
        try
        {
            var stores = groups.ToDictionary(g => g, g => new EngineRaftStorage(engine, g));
            using (var batch = engine.NewWriteBatch())
            {
                foreach (var g in groups)
                {
                    var ents = Range(1, 5 + g % 7, g % 5 + 1);
                    refs[g].Append(ents);
                    stores[g].StageEntries(batch, ents);
                    refs[g].SetHardState(new HardState(g % 5 + 1, g, 3));
                    stores[g].StageHardState(batch, new HardState(g % 5 + 1, g, 3));
                }

                engine.Write(batch, sync: true);
                foreach (var g in groups)
                {
                    stores[g].OnPersisted();
                }
            }

            using (var batch = engine.NewWriteBatch())
            {
                refs[2].Compact(4);
                stores[2].StageCompact(batch, 4);
                var snap = new Snapshot(new SnapshotMetadata(20, 9, Three), ReadOnlyMemory<byte>.Empty);
                refs[256].ApplySnapshot(snap);
                stores[256].StageSnapshot(batch, snap);
                engine.Write(batch, sync: true);
                stores[2].OnPersisted();
                stores[256].OnPersisted();
            }

            foreach (var g in groups)
            {
                AssertSame(refs[g], stores[g]);
            }

            engine.Dispose();
            engine = Engine.Open(dir.Path);
            foreach (var g in groups)
            {
                AssertSame(refs[g], new EngineRaftStorage(engine, g));
            }

            var fresh = new EngineRaftStorage(engine, 3);
            AssertSame(new MemoryRaftStorage(), fresh);
        }
        finally
        {
            engine.Dispose();
        }
    }

    [Fact(DisplayName = "Raft log recovery: a corrupt entry fails reads with an exception naming the group and index")]
    public void Corrupt_entry()
    {
        using var p = new RaftStoragePair(7);
        p.Append(Range(1, 5, 1));
        p.Engine.Put(ColumnFamily.Raft, RaftLogCodec.EntryKey(7, 3), [9, 0, 1]); // unknown version
        var e = Assert.Throws<RaftLogCorruptException>(() => p.Persistent.Term(3, out _));
        Assert.Contains("group 7", e.Message, StringComparison.Ordinal);
        Assert.Contains("entry 3", e.Message, StringComparison.Ordinal);
        Assert.Contains("version 9", e.Message, StringComparison.Ordinal);
        Assert.Throws<RaftLogCorruptException>(() => p.Persistent.Entries(1, 6, ulong.MaxValue, []));

        p.Engine.Put(ColumnFamily.Raft, RaftLogCodec.EntryKey(7, 3), [1, 0]); // short: no term
        e = Assert.Throws<RaftLogCorruptException>(() => p.Persistent.Term(3, out _));
        Assert.Contains("short", e.Message, StringComparison.Ordinal);

        p.Engine.Put(ColumnFamily.Raft, RaftLogCodec.EntryKey(7, 3), [1, 7, 1]); // unknown entry type
        e = Assert.Throws<RaftLogCorruptException>(() => p.Persistent.Term(3, out _));
        Assert.Contains("entry type 7", e.Message, StringComparison.Ordinal);

        p.Engine.Delete(ColumnFamily.Raft, RaftLogCodec.EntryKey(7, 3)); // a hole in the log
        e = Assert.Throws<RaftLogCorruptException>(() => p.Persistent.Entries(2, 5, ulong.MaxValue, []));
        Assert.Contains("entry 3", e.Message, StringComparison.Ordinal);
    }

    [Fact(DisplayName = "Raft log recovery: a corrupt hard state, snapshot or log start stops the restart with a clear exception")]
    public void Corrupt_state_on_restart()
    {
        using var p = new RaftStoragePair(7);
        p.Append(Range(1, 5, 1));
        p.SetHardState(new HardState(1, 1, 2));
        p.CreateSnapshot(2, Three, "x");

        var hsKey = RaftLogCodec.StateKey(7, RaftLogCodec.KindHardState);
        var good = p.Engine.Get(ColumnFamily.Raft, hsKey)!;
        p.Engine.Put(ColumnFamily.Raft, hsKey, good.AsSpan(0, good.Length - 1));
        var e = Assert.Throws<RaftLogCorruptException>(p.Reopen);
        Assert.Contains("group 7", e.Message, StringComparison.Ordinal);
        Assert.Contains("hard state", e.Message, StringComparison.Ordinal);
        p.Engine.Put(ColumnFamily.Raft, hsKey, [.. good, 0]);
        e = Assert.Throws<RaftLogCorruptException>(p.Reopen);
        Assert.Contains("trailing", e.Message, StringComparison.Ordinal);
        p.Engine.Put(ColumnFamily.Raft, hsKey, good);

        var snapKey = RaftLogCodec.StateKey(7, RaftLogCodec.KindSnapshot);
        var snap = p.Engine.Get(ColumnFamily.Raft, snapKey)!;
        p.Engine.Put(ColumnFamily.Raft, snapKey, snap.AsSpan(0, 3));
        e = Assert.Throws<RaftLogCorruptException>(p.Reopen);
        Assert.Contains("snapshot", e.Message, StringComparison.Ordinal);
        p.Engine.Put(ColumnFamily.Raft, snapKey, snap);

        p.Engine.Delete(ColumnFamily.Raft, RaftLogCodec.EntryKey(7, 1)); // the log no longer starts after the truncation point
        e = Assert.Throws<RaftLogCorruptException>(p.Reopen);
        Assert.Contains("first stored entry should be 1", e.Message, StringComparison.Ordinal);
    }
}
