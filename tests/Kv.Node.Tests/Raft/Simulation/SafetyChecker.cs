using Kv.Node.Raft;

namespace Kv.Node.Tests.Raft.Simulation;

/// <summary>
/// The Raft paper's safety properties (figure 3), checked after every simulator step:
/// election safety, log matching, leader completeness, state machine safety. Throws
/// SafetyViolationException naming the property on the first violation.
/// </summary>
internal sealed class SafetyChecker
{
    // Election safety: "at most one leader can be elected in a given term".
    private readonly Dictionary<ulong, ulong> leaderOfTerm = [];

    // Log matching, inductively: every (index, term) ever persisted has one payload and one predecessor term.
    private readonly Dictionary<(ulong Index, ulong Term), (ulong PrevTerm, ReadOnlyMemory<byte> Data)> entries = [];

    // Committed entries: the term a leader committed them in, and what they are.
    private readonly Dictionary<ulong, (ulong CommitTerm, ulong EntryTerm, ReadOnlyMemory<byte> Data)> committed = [];
    private ulong maxRecordedCommit;

    // (node, term) pairs whose leader completeness was checked.
    private readonly HashSet<(ulong Node, ulong Term)> checkedLeaders = [];

    public int CommittedCount => committed.Count;

    public ulong MaxCommitted => maxRecordedCommit;

    /// <summary>Called after every event, over all live nodes.</summary>
    public void AfterStep(IEnumerable<RaftNode> live)
    {
        foreach (var n in live)
        {
            if (n.Role != RaftRole.Leader)
            {
                continue;
            }

            if (leaderOfTerm.TryGetValue(n.Term, out var other) && other != n.Id)
            {
                throw new SafetyViolationException("election safety", $"two leaders in term {n.Term}: {other} and {n.Id}");
            }

            leaderOfTerm[n.Term] = n.Id;

            if (checkedLeaders.Add((n.Id, n.Term)))
            {
                CheckLeaderCompleteness(n);
            }

            RecordCommits(n);
        }
    }

    private void RecordCommits(RaftNode leader)
    {
        var log = leader.Core.Log;
        for (var i = maxRecordedCommit + 1; i <= leader.Committed; i++)
        {
            if (log.Term(i, out var t) != StorageStatus.Ok || i < log.FirstIndex())
            {
                continue; // compacted: committed earlier, recorded by whoever committed it
            }

            var data = EntryData(log, i);
            if (committed.TryGetValue(i, out var c))
            {
                if (c.EntryTerm != t || !c.Data.Span.SequenceEqual(data.Span))
                {
                    throw new SafetyViolationException("state machine safety", $"leader {leader.Id} (term {leader.Term}) committed index {i} term {t}, but term {c.EntryTerm} was committed there before");
                }
            }
            else
            {
                committed[i] = (leader.Term, t, data);
            }
        }

        maxRecordedCommit = Math.Max(maxRecordedCommit, leader.Committed);
    }

    /// <summary>Leader completeness: a leader's log holds every entry committed in an earlier term.</summary>
    private void CheckLeaderCompleteness(RaftNode leader)
    {
        var log = leader.Core.Log;
        var first = log.FirstIndex();
        foreach (var (i, c) in committed)
        {
            if (c.CommitTerm >= leader.Term || i < first)
            {
                continue;
            }

            if (log.Term(i, out var t) != StorageStatus.Ok || t != c.EntryTerm || i > log.LastIndex())
            {
                throw new SafetyViolationException("leader completeness", $"leader {leader.Id} of term {leader.Term} lacks entry {i} (term {c.EntryTerm}) committed in term {c.CommitTerm}; its log has term {t} there, last index {log.LastIndex()}");
            }
        }
    }

    /// <summary>Log matching, checked on every entry a node persists.</summary>
    public void OnPersisted(ulong node, IReadOnlyList<Entry> ents, MemoryRaftStorage storage)
    {
        foreach (var e in ents)
        {
            var prevTerm = storage.Term(e.Index - 1, out var pt) == StorageStatus.Ok ? pt : ulong.MaxValue;
            if (entries.TryGetValue((e.Index, e.Term), out var seen))
            {
                if (!seen.Data.Span.SequenceEqual(e.Data.Span))
                {
                    throw new SafetyViolationException("log matching", $"node {node} persisted entry {e.Index}/{e.Term} with a payload different from another node's");
                }

                if (prevTerm != ulong.MaxValue && seen.PrevTerm != ulong.MaxValue && seen.PrevTerm != prevTerm)
                {
                    throw new SafetyViolationException("log matching", $"node {node} has entry {e.Index}/{e.Term} after term {prevTerm}, another node after term {seen.PrevTerm}");
                }

                if (seen.PrevTerm == ulong.MaxValue && prevTerm != ulong.MaxValue)
                {
                    entries[(e.Index, e.Term)] = (prevTerm, seen.Data);
                }
            }
            else
            {
                entries[(e.Index, e.Term)] = (prevTerm, e.Data);
            }
        }
    }

    /// <summary>State machine safety: every node applies the same entry at each index.</summary>
    public void OnApplied(ulong node, Entry e)
    {
        if (committed.TryGetValue(e.Index, out var c))
        {
            if (c.EntryTerm != e.Term || !c.Data.Span.SequenceEqual(e.Data.Span))
            {
                throw new SafetyViolationException("state machine safety", $"node {node} applied {e.Index}/{e.Term}, but {e.Index}/{c.EntryTerm} was committed");
            }
        }
        else
        {
            committed[e.Index] = (ulong.MaxValue, e.Term, e.Data);
        }
    }

    private static ReadOnlyMemory<byte> EntryData(RaftLog log, ulong i)
    {
        var one = new List<Entry>(1);
        return log.Slice(i, i + 1, ulong.MaxValue, one) == StorageStatus.Ok && one.Count == 1 ? one[0].Data : ReadOnlyMemory<byte>.Empty;
    }
}

/// <summary>A Raft safety property or a client-visible guarantee failed in a simulated run.</summary>
internal sealed class SafetyViolationException : Exception
{
    public SafetyViolationException(string property, string detail)
        : base($"{property} violated: {detail}")
    {
        Property = property;
    }

    public SafetyViolationException()
    {
        Property = "";
    }

    public SafetyViolationException(string message)
        : base(message)
    {
        Property = "";
    }

    public SafetyViolationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Property = "";
    }

    public string Property { get; }
}
