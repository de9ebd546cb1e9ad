namespace Kv.Node.Raft;

/// <summary>
/// The log as one member sees it: stable storage below, unstable entries above, plus the commit
/// and apply cursors. Invariant: applied &lt;= committed &lt;= lastIndex. Port of etcd's log.go.
/// </summary>
internal sealed class RaftLog
{
    private readonly IRaftStorage storage;
    private readonly ulong maxCommittedSizePerReady;

    public RaftLog(IRaftStorage storage, ulong maxCommittedSizePerReady)
    {
        this.storage = storage;
        this.maxCommittedSizePerReady = maxCommittedSizePerReady;
        var first = storage.FirstIndex();
        var last = storage.LastIndex();
        Unstable = new UnstableLog(last + 1);
        Committed = first - 1;
        Applied = first - 1;
    }

    public UnstableLog Unstable { get; }

    public ulong Committed { get; private set; }

    public ulong Applied { get; private set; }

    public IRaftStorage Storage => storage;

    public ulong FirstIndex() => Unstable.MaybeFirstIndex(out var i) ? i : storage.FirstIndex();

    public ulong LastIndex() => Unstable.MaybeLastIndex(out var i) ? i : storage.LastIndex();

    public ulong LastTerm()
    {
        var st = Term(LastIndex(), out var t);
        if (st != StorageStatus.Ok)
        {
            throw new RaftInvariantException("last-term-readable", $"term of last index {LastIndex()}: {st}");
        }

        return t;
    }

    /// <summary>Term at i; out-of-range above the log is Ok with term 0 (no entry matches it).</summary>
    public StorageStatus Term(ulong i, out ulong term)
    {
        term = 0;
        var dummy = FirstIndex() - 1;
        if (i < dummy)
        {
            return StorageStatus.Compacted;
        }

        if (i > LastIndex())
        {
            return StorageStatus.Ok;
        }

        if (Unstable.MaybeTerm(i, out term))
        {
            return StorageStatus.Ok;
        }

        return storage.Term(i, out term);
    }

    /// <summary>Term at i, or 0 if it is unknown (compacted or beyond the log).</summary>
    public ulong ZeroTermOnOutOfBounds(ulong i) => Term(i, out var t) == StorageStatus.Ok ? t : 0;

    /// <summary>
    /// Whether the entry at i has the given term. Nothing beyond the last index matches, not even
    /// term 0 (Term reports 0 there): an append "after" a gap must be refused, not accepted.
    /// </summary>
    public bool MatchTerm(ulong i, ulong term) => i <= LastIndex() && Term(i, out var t) == StorageStatus.Ok && t == term;

    /// <summary>Figure 2, RequestVote receiver rule 2: "candidate's log is at least as up-to-date as receiver's log".</summary>
    public bool IsUpToDate(ulong lastIndex, ulong term)
    {
        var ourTerm = LastTerm();
        return term > ourTerm || (term == ourTerm && lastIndex >= LastIndex());
    }

    /// <summary>
    /// Follower side of AppendEntries: if the entry at index has logTerm, appends ents (dropping a
    /// conflicting suffix), advances commit to min(committed, last new index), and returns true.
    /// </summary>
    public bool MaybeAppend(ulong index, ulong logTerm, ulong committed, Entry[] ents, out ulong lastNewIndex)
    {
        lastNewIndex = 0;
        if (!MatchTerm(index, logTerm))
        {
            return false;
        }

        lastNewIndex = index + (ulong)ents.Length;
        var ci = FindConflict(ents);
        if (ci != 0)
        {
            if (ci <= Committed)
            {
                throw new RaftInvariantException("committed-entry-never-overwritten", $"entry {ci} conflicts with committed entry [committed({Committed})]");
            }

            var offset = index + 1;
            Append(ents.AsSpan((int)(ci - offset)));
        }

        CommitTo(Math.Min(committed, lastNewIndex));
        return true;
    }

    public ulong Append(ReadOnlySpan<Entry> ents)
    {
        if (ents.Length == 0)
        {
            return LastIndex();
        }

        var after = ents[0].Index - 1;
        if (after < Committed)
        {
            throw new RaftInvariantException("committed-entry-never-overwritten", $"after({after}) is out of range [committed({Committed})]");
        }

        Unstable.TruncateAndAppend(ents);
        return LastIndex();
    }

    /// <summary>The index of the first entry whose term differs from ours, or the first new one; 0 if all match.</summary>
    public ulong FindConflict(Entry[] ents)
    {
        foreach (var e in ents)
        {
            if (!MatchTerm(e.Index, e.Term))
            {
                return e.Index;
            }
        }

        return 0;
    }

    /// <summary>
    /// The largest index &lt;= index whose term is &lt;= term (or the first index we cannot read), with its term:
    /// the leader can skip every index above it when probing (dissertation 5.3's fast backtracking).
    /// </summary>
    public (ulong Index, ulong Term) FindConflictByTerm(ulong index, ulong term)
    {
        while (true)
        {
            if (Term(index, out var t) != StorageStatus.Ok)
            {
                return (index, 0);
            }

            if (t <= term)
            {
                return (index, t);
            }

            index--;
        }
    }

    public void CommitTo(ulong toCommit)
    {
        if (Committed >= toCommit)
        {
            return;
        }

        if (LastIndex() < toCommit)
        {
            throw new RaftInvariantException("commit-within-log", $"tocommit({toCommit}) is out of range [lastIndex({LastIndex()})]");
        }

        Committed = toCommit;
    }

    /// <summary>Figure 2, leader rule: commit N only if "log[N].term == currentTerm".</summary>
    public bool MaybeCommit(ulong maxIndex, ulong term)
    {
        if (maxIndex > Committed && ZeroTermOnOutOfBounds(maxIndex) == term)
        {
            CommitTo(maxIndex);
            return true;
        }

        return false;
    }

    public void AppliedTo(ulong i)
    {
        if (i == 0)
        {
            return;
        }

        if (Committed < i || i < Applied)
        {
            throw new RaftInvariantException("applied-within-committed", $"applied({i}) is out of range [prevApplied({Applied}), committed({Committed})]");
        }

        Applied = i;
    }

    public void StableTo(ulong i, ulong t) => Unstable.StableTo(i, t);

    public void StableSnapTo(ulong i) => Unstable.StableSnapTo(i);

    public IReadOnlyList<Entry> UnstableEntries() => Unstable.Entries.Count == 0 ? [] : [.. Unstable.Entries];

    public bool HasNextCommittedEntries() => Committed > Math.Max(Applied, FirstIndex() - 1);

    /// <summary>Committed entries not yet applied, up to the per-Ready size cap.</summary>
    public IReadOnlyList<Entry> NextCommittedEntries()
    {
        var off = Math.Max(Applied + 1, FirstIndex());
        if (Committed + 1 <= off)
        {
            return [];
        }

        var output = new List<Entry>();
        var st = Slice(off, Committed + 1, maxCommittedSizePerReady, output);
        if (st != StorageStatus.Ok)
        {
            throw new RaftInvariantException("committed-entries-readable", $"unexpected {st} reading committed entries [{off}, {Committed + 1})");
        }

        return output;
    }

    public Snapshot? PendingSnapshot => Unstable.Snapshot;

    /// <summary>The snapshot to send a follower: the incoming one if any, else storage's.</summary>
    public Snapshot Snapshot() => Unstable.Snapshot ?? storage.Snapshot();

    /// <summary>Entries from i to the end, capped at maxSize bytes.</summary>
    public StorageStatus Entries(ulong i, ulong maxSize, List<Entry> output)
    {
        if (i > LastIndex())
        {
            return StorageStatus.Ok;
        }

        return Slice(i, LastIndex() + 1, maxSize, output);
    }

    public void Restore(Snapshot s)
    {
        Committed = s.Index;
        Unstable.Restore(s);
    }

    /// <summary>Entries [lo, hi) from storage then the unstable part, capped at maxSize (at least one entry).</summary>
    public StorageStatus Slice(ulong lo, ulong hi, ulong maxSize, List<Entry> output)
    {
        var fi = FirstIndex();
        if (lo < fi)
        {
            return StorageStatus.Compacted;
        }

        if (hi > LastIndex() + 1 || lo > hi)
        {
            throw new RaftInvariantException("log-slice-in-range", $"slice[{lo},{hi}) out of bound [{fi},{LastIndex()}]");
        }

        if (lo == hi)
        {
            return StorageStatus.Ok;
        }

        var start = output.Count;
        var uoff = Unstable.Offset;
        if (lo < uoff)
        {
            var st = storage.Entries(lo, Math.Min(hi, uoff), maxSize, output);
            if (st == StorageStatus.Compacted)
            {
                return st;
            }

            if (st == StorageStatus.Unavailable)
            {
                throw new RaftInvariantException("stable-entries-available", $"entries[{lo}:{Math.Min(hi, uoff)}) is unavailable from storage");
            }

            // Storage stopped early because of the size cap.
            if ((ulong)(output.Count - start) < Math.Min(hi, uoff) - lo)
            {
                return StorageStatus.Ok;
            }
        }

        if (hi > uoff)
        {
            var from = Math.Max(lo, uoff);
            var tmp = new List<Entry>((int)(hi - from));
            Unstable.Slice(from, hi, tmp);
            output.AddRange(tmp);
        }

        LimitSize(output, start, maxSize);
        return StorageStatus.Ok;
    }

    private static void LimitSize(List<Entry> output, int start, ulong maxSize)
    {
        if (output.Count - start <= 1)
        {
            return;
        }

        ulong size = output[start].Size;
        var limit = start + 1;
        for (; limit < output.Count; limit++)
        {
            size += output[limit].Size;
            if (size > maxSize)
            {
                break;
            }
        }

        if (limit < output.Count)
        {
            output.RemoveRange(limit, output.Count - limit);
        }
    }
}
