namespace Kv.Node.Raft;

/// <summary>
/// IRaftStorage in memory, for tests, the simulator and benchmarks. Also offers the write side a
/// host needs (append, hard state, snapshots, compaction). Not thread-safe: one owner.
/// </summary>
internal sealed class MemoryRaftStorage : IRaftStorage
{
    // ents[0] is a dummy whose Index/Term are the last compacted (snapshot) index and term.
    private readonly List<Entry> ents = [new Entry(0, 0, EntryType.Normal, ReadOnlyMemory<byte>.Empty)];
    private HardState hardState;
    private Snapshot snapshot = global::Kv.Node.Raft.Snapshot.Empty;

    public HardState HardState => hardState;

    public (HardState HardState, ConfState ConfState) InitialState() => (hardState, snapshot.Metadata.ConfState);

    public void SetHardState(HardState hs) => hardState = hs;

    public ulong FirstIndex() => ents[0].Index + 1;

    public ulong LastIndex() => ents[0].Index + (ulong)ents.Count - 1;

    public Snapshot Snapshot() => snapshot;

    public StorageStatus Term(ulong index, out ulong term)
    {
        term = 0;
        var offset = ents[0].Index;
        if (index < offset)
        {
            return StorageStatus.Compacted;
        }

        if (index - offset >= (ulong)ents.Count)
        {
            return StorageStatus.Unavailable;
        }

        term = ents[(int)(index - offset)].Term;
        return StorageStatus.Ok;
    }

    public StorageStatus Entries(ulong lo, ulong hi, ulong maxSize, List<Entry> output)
    {
        var offset = ents[0].Index;
        if (lo <= offset)
        {
            return StorageStatus.Compacted;
        }

        if (hi > LastIndex() + 1)
        {
            throw new RaftInvariantException("storage-entries-in-range", $"entries hi {hi} beyond last index {LastIndex()}");
        }

        if (ents.Count == 1)
        {
            return StorageStatus.Unavailable;
        }

        ulong size = 0;
        for (var i = lo; i < hi; i++)
        {
            var e = ents[(int)(i - offset)];
            size += e.Size;
            if (i > lo && size > maxSize)
            {
                break;
            }

            output.Add(e);
        }

        return StorageStatus.Ok;
    }

    /// <summary>Installs a snapshot received from the leader; false if it is older than the one held.</summary>
    public bool ApplySnapshot(Snapshot snap)
    {
        if (snap.Index <= snapshot.Index)
        {
            return false;
        }

        snapshot = snap;
        ents.Clear();
        ents.Add(new Entry(snap.Term, snap.Index, EntryType.Normal, ReadOnlyMemory<byte>.Empty));
        return true;
    }

    /// <summary>Records a snapshot of the application state at index (which must be stable); false if not newer.</summary>
    public bool CreateSnapshot(ulong index, ConfState confState, ReadOnlyMemory<byte> data)
    {
        if (index <= snapshot.Index)
        {
            return false;
        }

        if (index > LastIndex())
        {
            throw new RaftInvariantException("snapshot-within-log", $"snapshot index {index} beyond last index {LastIndex()}");
        }

        var term = ents[(int)(index - ents[0].Index)].Term;
        snapshot = new Snapshot(new SnapshotMetadata(index, term, confState), data);
        return true;
    }

    /// <summary>Discards entries up to and including compactIndex; false if already compacted there.</summary>
    public bool Compact(ulong compactIndex)
    {
        var offset = ents[0].Index;
        if (compactIndex <= offset)
        {
            return false;
        }

        if (compactIndex > LastIndex())
        {
            throw new RaftInvariantException("compact-within-log", $"compact index {compactIndex} beyond last index {LastIndex()}");
        }

        var i = (int)(compactIndex - offset);
        var dummy = new Entry(ents[i].Term, ents[i].Index, EntryType.Normal, ReadOnlyMemory<byte>.Empty);
        ents.RemoveRange(0, i);
        ents[0] = dummy;
        return true;
    }

    /// <summary>Appends entries, overwriting any conflicting suffix. Entries must be contiguous.</summary>
    public void Append(IReadOnlyList<Entry> entries)
    {
        if (entries.Count == 0)
        {
            return;
        }

        var first = FirstIndex();
        var last = entries[^1].Index;
        if (last < first)
        {
            return; // all already compacted
        }

        var skip = first > entries[0].Index ? (int)(first - entries[0].Index) : 0;
        var start = entries[skip].Index;
        var offset = start - ents[0].Index;
        if ((ulong)ents.Count < offset)
        {
            throw new RaftInvariantException("storage-append-contiguous", $"missing log entry [last: {LastIndex()}, append at: {start}]");
        }

        if ((ulong)ents.Count > offset)
        {
            ents.RemoveRange((int)offset, ents.Count - (int)offset);
        }

        for (var i = skip; i < entries.Count; i++)
        {
            ents.Add(entries[i]);
        }
    }
}
