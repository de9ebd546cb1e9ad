namespace Kv.Node.Raft;

/// <summary>
/// Entries (and at most one incoming snapshot) not yet known to be in stable storage. Entries
/// occupy indexes [Offset, Offset + Count). Port of etcd's log_unstable.go.
/// </summary>
internal sealed class UnstableLog
{
    private readonly List<Entry> entries = [];

    public UnstableLog(ulong offset)
    {
        Offset = offset;
    }

    public Snapshot? Snapshot { get; private set; }

    public ulong Offset { get; private set; }

    public IReadOnlyList<Entry> Entries => entries;

    public bool MaybeFirstIndex(out ulong index)
    {
        index = Snapshot is { } s ? s.Index + 1 : 0;
        return Snapshot is not null;
    }

    public bool MaybeLastIndex(out ulong index)
    {
        if (entries.Count > 0)
        {
            index = Offset + (ulong)entries.Count - 1;
            return true;
        }

        index = Snapshot is { } s ? s.Index : 0;
        return Snapshot is not null;
    }

    public bool MaybeTerm(ulong i, out ulong term)
    {
        term = 0;
        if (i < Offset)
        {
            if (Snapshot is { } s && s.Index == i)
            {
                term = s.Term;
                return true;
            }

            return false;
        }

        if (!MaybeLastIndex(out var last) || i > last)
        {
            return false;
        }

        term = entries[(int)(i - Offset)].Term;
        return true;
    }

    /// <summary>Entries up to i (with term t) reached stable storage. A term mismatch means they were overwritten meanwhile.</summary>
    public void StableTo(ulong i, ulong t)
    {
        if (!MaybeTerm(i, out var gt) || i < Offset || gt != t)
        {
            return;
        }

        entries.RemoveRange(0, (int)(i + 1 - Offset));
        Offset = i + 1;
    }

    public void StableSnapTo(ulong i)
    {
        if (Snapshot is { } s && s.Index == i)
        {
            Snapshot = null;
        }
    }

    public void Restore(Snapshot s)
    {
        Offset = s.Index + 1;
        entries.Clear();
        Snapshot = s;
    }

    public void TruncateAndAppend(ReadOnlySpan<Entry> ents)
    {
        var after = ents[0].Index;
        if (after == Offset + (ulong)entries.Count)
        {
            // The common case: a direct continuation.
        }
        else if (after <= Offset)
        {
            // Replaces everything unstable; the storage suffix is overwritten when persisted.
            Offset = after;
            entries.Clear();
        }
        else
        {
            entries.RemoveRange((int)(after - Offset), entries.Count - (int)(after - Offset));
        }

        foreach (var e in ents)
        {
            entries.Add(e);
        }
    }

    /// <summary>Entries [lo, hi), which must lie within the unstable range.</summary>
    public void Slice(ulong lo, ulong hi, List<Entry> output)
    {
        if (lo > hi || lo < Offset || hi > Offset + (ulong)entries.Count)
        {
            throw new RaftInvariantException("unstable-slice-in-range", $"unstable.slice[{lo},{hi}) out of bound [{Offset},{Offset + (ulong)entries.Count}]");
        }

        for (var i = lo; i < hi; i++)
        {
            output.Add(entries[(int)(i - Offset)]);
        }
    }
}
