using Kv.Node.Raft;
using Kv.Node.Ranges.RaftLog;
using Kv.Node.Storage;
using static Kv.Node.Tests.Ranges.RaftLog.RaftStoragePair;

namespace Kv.Node.Tests.Ranges.RaftLog;

/// <summary>EngineRaftStorage answers every read exactly as MemoryRaftStorage does, after the same writes, and after a restart.</summary>
public class RaftStorageConformanceTests
{
    private static readonly ConfState Three = ConfState.OfVoters(1, 2, 3);

    [Fact(DisplayName = "Raft log conformance: an empty log (first 1, last 0, term 0 at index 0)")]
    public void Empty_log()
    {
        using var p = new RaftStoragePair();
        p.AssertSame();
        p.Reopen();
        p.AssertSame();
    }

    [Fact(DisplayName = "Raft log conformance: appended entries, hard state, and Entries with maxSize")]
    public void Append_and_read()
    {
        using var p = new RaftStoragePair();
        p.Append(Range(1, 5, 1));
        p.Append(E(6, 2, "a longer payload for the size limit"), E(7, 2));
        p.SetHardState(new HardState(2, 1, 6));
        p.AssertSame();
        p.Reopen();
        p.AssertSame();
    }

    [Fact(DisplayName = "Raft log conformance: appending from an earlier index replaces the suffix (shorter and longer), stale entries are gone")]
    public void Overwrite_suffix()
    {
        using var p = new RaftStoragePair();
        p.Append(Range(1, 10, 1));
        p.Append(Range(4, 6, 2)); // shorter: 7..10 of term 1 must disappear
        p.AssertSame();
        p.Append(Range(6, 12, 3)); // longer, from inside
        p.AssertSame();
        p.Append(Range(12, 12, 4)); // replace only the last
        p.AssertSame();
        p.Reopen();
        p.AssertSame();
    }

    [Fact(DisplayName = "Raft log conformance: compaction drops entries, Term at FirstIndex()-1 survives, reads below are Compacted")]
    public void Compaction()
    {
        using var p = new RaftStoragePair();
        p.Append(Range(1, 5, 1));
        p.Append(Range(6, 10, 2));
        p.CreateSnapshot(7, Three, "state@7");
        p.Compact(7);
        p.AssertSame();
        p.Compact(7); // already compacted: false on both
        p.Compact(3);
        p.Append(Range(9, 11, 3)); // overwrite after compaction
        p.Append(Range(5, 8, 3)); // partly compacted: only 8 lands
        p.AssertSame();
        p.Compact(8); // everything
        p.AssertSame();
        p.Reopen();
        p.AssertSame();
        Assert.Equal(StorageStatus.Ok, p.Persistent.Term(8, out var t));
        Assert.Equal(3UL, t);
    }

    [Fact(DisplayName = "Raft log conformance: installing a snapshot replaces the whole log; an older one is refused")]
    public void Snapshot_install_replaces_log()
    {
        using var p = new RaftStoragePair();
        p.Append(Range(1, 20, 1));
        p.ApplySnapshot(new Snapshot(new SnapshotMetadata(15, 3, Three), "snap"u8.ToArray()));
        p.AssertSame();
        p.ApplySnapshot(new Snapshot(new SnapshotMetadata(12, 3, Three), "older"u8.ToArray()));
        p.Append(Range(16, 18, 3));
        p.AssertSame();
        var joint = new ConfState([1, 2, 4], [5], [1, 2, 3], [3], true);
        p.ApplySnapshot(new Snapshot(new SnapshotMetadata(30, 4, joint), ReadOnlyMemory<byte>.Empty));
        p.AssertSame();
        p.Reopen();
        p.AssertSame();
    }

    [Fact(DisplayName = "Raft log conformance: snapshot, entries and hard state staged in one batch read as if applied in order")]
    public void One_batch_like_a_ready()
    {
        using var p = new RaftStoragePair();
        p.Append(Range(1, 8, 1));
        var snap = new Snapshot(new SnapshotMetadata(10, 2, Three), "s"u8.ToArray());
        var entries = Range(11, 14, 2);
        var hs = new HardState(2, 3, 12);
        p.Reference.ApplySnapshot(snap);
        p.Reference.Append(entries);
        p.Reference.SetHardState(hs);
        p.Persist(b =>
        {
            Assert.True(p.Persistent.StageSnapshot(b, snap));
            p.Persistent.StageEntries(b, entries);
            p.Persistent.StageEntries(b, Range(13, 13, 2)); // re-append within the same batch
            p.Persistent.StageHardState(b, hs);
            Assert.True(p.Persistent.StageCompact(b, 12)); // compacts staged entries: needs their terms
        });
        p.Reference.Append(Range(13, 13, 2));
        p.Reference.Compact(12);
        p.AssertSame();
        p.Reopen();
        p.AssertSame();
    }

    [Fact(DisplayName = "Raft log conformance: indexes crossing byte boundaries read in log order (big-endian keys)")]
    public void Byte_boundaries()
    {
        using var p = new RaftStoragePair(255);
        p.Append(Range(1, 260, 1));
        p.Compact(250);
        p.AssertSame();
        p.ApplySnapshot(new Snapshot(new SnapshotMetadata(65_530, 2, Three), ReadOnlyMemory<byte>.Empty));
        p.Append(Range(65_531, 65_540, 2));
        p.Reopen();
        p.AssertSame();
        var neighbour = new EngineRaftStorage(p.Engine, 256);
        using (var batch = p.Engine.NewWriteBatch())
        {
            neighbour.StageEntries(batch, Range(1, 3, 1));
            neighbour.StageHardState(batch, new HardState(1, 1, 1));
            p.Engine.Write(batch);
            neighbour.OnPersisted();
        }

        var (start, end) = RaftLogCodec.GroupBounds(255);
        using var it = p.Engine.NewIterator(ColumnFamily.Raft, start, end);
        var count = 0;
        for (var valid = it.SeekToFirst(); valid; valid = it.Next())
        {
            count++;
        }

        Assert.Equal(2 + 10, count); // no hard state here: truncated state, snapshot and 10 entries; none of group 256
    }

    [Fact(DisplayName = "Raft log conformance: reading beyond the last index is a broken invariant on both")]
    public void Entries_beyond_last_throw()
    {
        using var p = new RaftStoragePair();
        p.Append(Range(1, 3, 1));
        Assert.Throws<RaftInvariantException>(() => p.Reference.Entries(1, 5, ulong.MaxValue, []));
        Assert.Throws<RaftInvariantException>(() => p.Persistent.Entries(1, 5, ulong.MaxValue, []));
        Assert.Throws<RaftInvariantException>(() => p.Persistent.StageCompact(p.Engine.NewWriteBatch(), 9));
    }

    [Theory(DisplayName = "Raft log conformance: a seeded random sequence of appends, overwrites, snapshots, compactions and restarts")]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Random_operations(int seed)
    {
        var rng = new Random(seed);
        using var p = new RaftStoragePair((ulong)seed);
        ulong term = 1;
        for (var step = 0; step < 120; step++)
        {
            var first = p.Reference.FirstIndex();
            var last = p.Reference.LastIndex();
            switch (rng.Next(10))
            {
                case < 5:
                    var from = first + (ulong)rng.Next((int)(last - first + 2));
                    if (rng.Next(4) == 0)
                    {
                        term++;
                    }

                    p.Append(Range(from, from + (ulong)rng.Next(5), term));
                    break;
                case 5:
                    p.SetHardState(new HardState(term, (ulong)rng.Next(4), last));
                    break;
                case 6 when last >= first:
                    p.Compact(first + (ulong)rng.Next((int)(last - first + 1)));
                    break;
                case 7 when last >= first:
                    p.CreateSnapshot(first + (ulong)rng.Next((int)(last - first + 1)), ConfState.OfVoters(1, (ulong)rng.Next(2, 9)), $"s{step}");
                    break;
                case 8:
                    term++;
                    p.ApplySnapshot(new Snapshot(new SnapshotMetadata(last + (ulong)rng.Next(3), term, Three), ReadOnlyMemory<byte>.Empty));
                    break;
                default:
                    p.Reopen();
                    break;
            }

            p.AssertSame();
        }
    }
}
