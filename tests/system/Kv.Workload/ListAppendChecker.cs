using System.Text.Json.Nodes;

namespace Kv.Workload;

/// <summary>Checks a list-append history (after Elle's list-append analysis) for the anomalies
/// snapshot isolation forbids.
///
/// Inputs: ok transactions (appends committed, reads observed), info transactions (appends may have
/// committed, reads unknown), fail transactions (appends must never be seen).
///
/// Per key, the version order is the longest list any ok transaction read; every other read must be
/// a prefix of it. Edges between transactions:
///   ww  T1 -> T2: T2's value follows T1's value directly in a key's version order;
///   wr  T1 -> T2: T2's read of a key (before T2's own appends to it) ends with T1's value;
///   rw  T1 -> T2: T1 read a key whose version order's next value (after what T1 saw) is T2's.
///   rt  T1 -> T2: T1 (ok) returned before T2 (ok) was invoked. With a timestamp oracle,
///       commit_ts(T1) &lt; start_ts(T2), so T2's snapshot holds T1 (strong snapshot isolation).
///       Built through a chain of virtual event nodes (one per invoke/return, in time order), so
///       the graph stays linear in the history instead of quadratic.
///
/// Why the cycles below are forbidden: under SI a ww, wr or rt edge T1 -> T2 means commit(T1) &lt;
/// start(T2), and an rw edge T1 -> T2 means start(T1) &lt; commit(T2). Along a cycle in which no two
/// rw edges are adjacent, an rw edge together with the edge after it gives start(T1) &lt; start(T3),
/// and every other edge alone gives start(T1) &lt; start(T2): start times would rise all the way
/// around the cycle, which is impossible. Cycles with two adjacent rw edges (write skew) are allowed.
///
/// Violations (each listed with the operations involved):
///   duplicate          a read holds the same value twice (or a value is appended twice);
///   garbage            a read holds a value no transaction appended;
///   internal           a read after the transaction's own append to the key does not end with it;
///   incompatible-order two reads of a key are not prefixes of one another;
///   G1a (aborted read) a read holds a value appended by a failed transaction;
///   G1b (intermediate) a read holds a non-final append of another transaction to that key without
///                      that transaction's later appends to it;
///   G0                 a cycle of ww edges;
///   G1c                a cycle of ww and wr edges (with at least one wr);
///   G-single           a cycle with exactly one rw edge (read skew; SI forbids it);
///   G-nonadjacent      a cycle with two or more rw edges, no two of them adjacent (long fork:
///                      two readers saw two concurrent commits in opposite orders);
///   G-single-realtime, G-nonadjacent-realtime, G1c-realtime
///                      the same cycles found only once rt edges are added (a stale snapshot: a
///                      transaction missed one that had returned before it began);
///   ts-order           a key's version order disagrees with its writers' commit_ts order;
///   ts-future-read     a read saw a value whose writer's commit_ts is above the reader's start_ts;
///   ts-stale-read      a read missed a version whose writer's commit_ts is at or below its start_ts;
///   ts-realtime        T1 returned before T2 was invoked, yet start_ts(T2) &lt;= commit_ts(T1)
///                      (start_ts for a read-only T1): the timestamp oracle went back in time;
///   lost-update        an ok transaction T appended v to k and returned; an ok transaction R that
///                      was invoked after T returned read k without v. R's start_ts comes from the
///                      timestamp oracle after T's commit_ts, so its snapshot must hold v: the append
///                      was lost, e.g. overwritten by a concurrent read-modify-write that missed it
///                      (a missing first-committer-wins check).
/// Informational (SI permits it): G2, cycles needing two or more rw edges (write skew).</summary>
public static class ListAppendChecker
{
    private const int MaxReports = 10;

    private sealed record Mop(string F, long Key, string? Value, List<string>? Read);

    private enum Edge
    {
        WW = 1,
        WR = 2,
        RW = 4,
        RT = 8,
    }

    private const Edge Dep = Edge.WW | Edge.WR;

    public static CheckResult Check(IReadOnlyList<Operation> all)
    {
        var r = new CheckResult();
        var txns = all.Where(o => o.F == "txn").ToList();
        var mops = new Dictionary<int, List<Mop>>();
        var writer = new Dictionary<(long, string), Operation>();
        var failedWriter = new Dictionary<(long, string), Operation>();
        var appendsOf = new Dictionary<(int, long), List<string>>(); // (txn, key) -> its appends in order
        foreach (var op in txns)
        {
            r.Count("txn-" + op.Type);
            var list = Parse(op.Type == "ok" ? op.Value : op.Invoke.Value);
            mops[op.Index] = list;
            foreach (var m in list.Where(m => m.F == "append"))
            {
                var target = op.Type == "fail" ? failedWriter : writer;
                if (writer.ContainsKey((m.Key, m.Value!)) || failedWriter.ContainsKey((m.Key, m.Value!)))
                {
                    Report(r, $"duplicate: value {m.Value} appended to key {m.Key} twice: {op}");
                }
                target[(m.Key, m.Value!)] = op;
                if (op.Type != "fail")
                {
                    if (!appendsOf.TryGetValue((op.Index, m.Key), out var own))
                    {
                        appendsOf[(op.Index, m.Key)] = own = [];
                    }
                    own.Add(m.Value!);
                }
            }
        }

        // Reads of ok transactions: full list, and the external part (without the reader's own appends).
        var reads = new List<(Operation Op, long Key, List<string> Full, List<string> External)>();
        foreach (var op in txns.Where(o => o.Type == "ok"))
        {
            var ownSoFar = new Dictionary<long, List<string>>();
            foreach (var m in mops[op.Index])
            {
                if (m.F == "append")
                {
                    if (!ownSoFar.TryGetValue(m.Key, out var l))
                    {
                        ownSoFar[m.Key] = l = [];
                    }
                    l.Add(m.Value!);
                    continue;
                }
                var full = m.Read ?? [];
                var external = full;
                if (ownSoFar.TryGetValue(m.Key, out var own) && own.Count > 0)
                {
                    if (full.Count < own.Count || !full.Skip(full.Count - own.Count).SequenceEqual(own))
                    {
                        Report(r, $"internal: read of key {m.Key} [{string.Join(' ', full)}] does not end with the transaction's own appends [{string.Join(' ', own)}]: {op}");
                        continue;
                    }
                    external = full.Take(full.Count - own.Count).ToList();
                }
                reads.Add((op, m.Key, full, external));
            }
        }

        // Per-read value checks: duplicates, garbage, G1a, G1b.
        foreach (var (op, key, full, _) in reads)
        {
            if (full.Distinct(StringComparer.Ordinal).Count() != full.Count)
            {
                Report(r, $"duplicate: read of key {key} holds a value twice [{string.Join(' ', full)}]: {op}");
            }
            var seen = full.ToHashSet(StringComparer.Ordinal);
            foreach (var v in full)
            {
                if (failedWriter.TryGetValue((key, v), out var failed))
                {
                    Report(r, $"G1a: read of key {key} holds {v}, appended by a failed transaction {failed}; reader: {op}");
                }
                else if (!writer.TryGetValue((key, v), out var w))
                {
                    Report(r, $"garbage: read of key {key} holds {v}, which no transaction appended: {op}");
                }
                else if (w.Index != op.Index && appendsOf.TryGetValue((w.Index, key), out var wAppends))
                {
                    var i = wAppends.IndexOf(v);
                    if (i >= 0 && i < wAppends.Count - 1 && !seen.Contains(wAppends[i + 1]))
                    {
                        Report(r, $"G1b: read of key {key} holds {v} but not {wAppends[i + 1]}, a later append of the same transaction {w}; reader: {op}");
                    }
                }
            }
        }

        // Version order per key: the longest read; every read must be a prefix of it.
        var order = new Dictionary<long, List<string>>();
        foreach (var (_, key, full, _) in reads)
        {
            if (!order.TryGetValue(key, out var longest) || full.Count > longest.Count)
            {
                order[key] = full;
            }
        }
        foreach (var (op, key, full, _) in reads)
        {
            var longest = order[key];
            if (!full.SequenceEqual(longest.Take(full.Count)))
            {
                Report(r, $"incompatible-order: read of key {key} [{string.Join(' ', full)}] is not a prefix of the longest read [{string.Join(' ', longest)}]: {op}");
            }
        }

        // Dependency graph.
        var graph = new Dictionary<int, Dictionary<int, Edge>>();
        void Add(Operation? from, Operation? to, Edge e)
        {
            if (from is null || to is null || from.Index == to.Index)
            {
                return;
            }
            if (!graph.TryGetValue(from.Index, out var outs))
            {
                graph[from.Index] = outs = [];
            }
            outs[to.Index] = outs.GetValueOrDefault(to.Index) | e;
        }
        Operation? WriterOf(long key, string v) => writer.GetValueOrDefault((key, v));
        foreach (var (key, list) in order)
        {
            for (var i = 0; i + 1 < list.Count; i++)
            {
                Add(WriterOf(key, list[i]), WriterOf(key, list[i + 1]), Edge.WW);
            }
        }
        foreach (var (op, key, _, external) in reads)
        {
            var versions = order[key];
            if (!external.SequenceEqual(versions.Take(external.Count)))
            {
                continue; // already reported as incompatible
            }
            if (external.Count > 0)
            {
                Add(WriterOf(key, external[^1]), op, Edge.WR);
            }
            if (external.Count < versions.Count)
            {
                Add(op, WriterOf(key, versions[external.Count]), Edge.RW);
            }
        }
        var byIndex = all.ToDictionary(o => o.Index);
        r.Count("edges", graph.Values.Sum(o => o.Count));

        // G0: ww cycles; G1c: ww+wr cycles with a wr edge.
        foreach (var scc in Components(graph, Edge.WW))
        {
            Report(r, $"G0: write cycle (ww): {Describe(Cycle(graph, scc, Edge.WW), byIndex)}");
        }
        foreach (var scc in Components(graph, Edge.WW | Edge.WR))
        {
            var set = scc.ToHashSet();
            var hasWr = scc.Any(a => graph.TryGetValue(a, out var o) && o.Any(e => set.Contains(e.Key) && (e.Value & Edge.WR) != 0));
            if (hasWr)
            {
                Report(r, $"G1c: circular information flow (ww/wr): {Describe(Cycle(graph, scc, Edge.WW | Edge.WR), byIndex)}");
            }
        }

        CheckTimestamps(r, txns, order, reads, WriterOf);

        // Real-time edges, then the cycles that need an rw edge: first without real time (Adya's
        // G-single and G-nonadjacent), then, for rw edges on no such cycle, with it.
        var g2 = Components(graph, Edge.WW | Edge.WR | Edge.RW).Count;
        int firstVirtual = AddRealtime(graph, txns.Where(o => o.Type == "ok").ToList(), all.Count == 0 ? 0 : all.Max(o => o.Index) + 1);
        var inG1 = new HashSet<int>();
        foreach (var scc in Components(graph, Edge.WW | Edge.WR))
        {
            inG1.UnionWith(scc);
        }
        foreach (var scc in Components(graph, Dep | Edge.RT))
        {
            if (!scc.Any(inG1.Contains))
            {
                Report(r, $"G1c-realtime: a ww/wr path leads back to a transaction that returned before its start: {Describe(Cycle(graph, scc, Dep | Edge.RT), byIndex)}");
            }
        }
        var found = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var scc in Components(graph, Dep | Edge.RW | Edge.RT))
        {
            var within = scc.ToHashSet();
            foreach (var a in scc.Where(v => v < firstVirtual).Order())
            {
                foreach (var (b, e) in graph[a])
                {
                    if ((e & Edge.RW) == 0 || !within.Contains(b))
                    {
                        continue;
                    }
                    string kind;
                    List<int>? back;
                    if ((back = Path(graph, b, a, Dep, within)) is not null)
                    {
                        kind = "G-single";
                    }
                    else if ((back = NonAdjacentPath(graph, b, a, Dep, within)) is not null)
                    {
                        kind = "G-nonadjacent";
                    }
                    else if ((back = Path(graph, b, a, Dep | Edge.RT, within)) is not null)
                    {
                        kind = "G-single-realtime";
                    }
                    else if ((back = NonAdjacentPath(graph, b, a, Dep | Edge.RT, within)) is not null)
                    {
                        kind = "G-nonadjacent-realtime";
                    }
                    else
                    {
                        continue; // only cycles with adjacent rw edges: write skew, allowed
                    }
                    if (found.GetValueOrDefault(kind) < MaxReports)
                    {
                        found[kind] = found.GetValueOrDefault(kind) + 1;
                        Report(r, $"{kind}: rw edge {Name(a, byIndex)} -> {Name(b, byIndex)} closed by {Describe(back, byIndex)}");
                    }
                }
            }
        }
        if (g2 > 0)
        {
            r.Notes.Add($"{g2} strongly connected component(s) with rw edges (G2 / write skew); snapshot isolation permits these");
        }

        // Lost update (realtime): for each key, the ok appends that returned before a read began must
        // all be in that read.
        var appendsByKey = new Dictionary<long, List<(long End, string Value, Operation Op)>>();
        foreach (var op in txns.Where(o => o.Type == "ok"))
        {
            foreach (var m in mops[op.Index].Where(m => m.F == "append"))
            {
                if (!appendsByKey.TryGetValue(m.Key, out var l))
                {
                    appendsByKey[m.Key] = l = [];
                }
                l.Add((op.End, m.Value!, op));
            }
        }
        var lost = 0;
        foreach (var (op, key, full, _) in reads)
        {
            if (!appendsByKey.TryGetValue(key, out var appends) || lost >= MaxReports)
            {
                continue;
            }
            var seen = full.ToHashSet(StringComparer.Ordinal);
            foreach (var (end, v, w) in appends)
            {
                if (end < op.Start && !seen.Contains(v))
                {
                    lost++;
                    Report(r, $"lost-update: {w} appended {v} to key {key} and returned before {op} began, which read [{string.Join(' ', full)}] without it");
                    break;
                }
            }
        }
        r.Count("reads", reads.Count);
        return r;
    }

    private static void Report(CheckResult r, string violation)
    {
        var kind = violation[..violation.IndexOf(':', StringComparison.Ordinal)];
        r.Count("violations-" + kind);
        if (r.Violations.Count(v => v.StartsWith(kind + ":", StringComparison.Ordinal)) < MaxReports)
        {
            r.Violations.Add(violation);
        }
    }

    // Virtual real-time event nodes are not operations: a run of them reads as one "(returned before invoke)" hop.
    private static string Describe(List<int> cycle, Dictionary<int, Operation> byIndex)
    {
        var parts = new List<string>();
        foreach (var i in cycle)
        {
            var part = Name(i, byIndex);
            if (parts.Count == 0 || part != parts[^1] || byIndex.ContainsKey(i))
            {
                parts.Add(part);
            }
        }
        return string.Join(" -> ", parts) + " -> (back to the first)";
    }

    private static string Name(int i, Dictionary<int, Operation> byIndex) =>
        byIndex.TryGetValue(i, out var op) ? op.ToString() : "(returned before invoke)";

    /// <summary>
    /// The rt edges: one virtual node per invoke and per return of an ok transaction, chained in
    /// time order (an invoke sorts before a return at the same time, so equal times order
    /// nothing); a transaction points to its return's node, its invoke's node points to it. So
    /// T1 reaches T2 through the chain exactly when T1 returned before T2 was invoked.
    /// Returns the first virtual node id (every id from it on is virtual).
    /// </summary>
    private static int AddRealtime(Dictionary<int, Dictionary<int, Edge>> graph, List<Operation> ok, int firstVirtual)
    {
        var events = new List<(long Time, int Kind, int Op)>(ok.Count * 2);
        foreach (var op in ok)
        {
            events.Add((op.Start, 0, op.Index));
            events.Add((op.End, 1, op.Index));
        }
        events.Sort();
        void Link(int from, int to)
        {
            if (!graph.TryGetValue(from, out var outs))
            {
                graph[from] = outs = [];
            }
            outs[to] = outs.GetValueOrDefault(to) | Edge.RT;
        }
        for (var i = 0; i < events.Count; i++)
        {
            var node = firstVirtual + i;
            if (i + 1 < events.Count)
            {
                Link(node, node + 1);
            }
            if (events[i].Kind == 0)
            {
                Link(node, events[i].Op);
            }
            else
            {
                Link(events[i].Op, node);
            }
        }
        return firstVirtual;
    }

    /// <summary>
    /// The commit_ts/start_ts checks (for ok transactions that recorded them): version order
    /// follows commit_ts; a read sees exactly the versions committed at or below its start_ts;
    /// timestamps follow real time.
    /// </summary>
    private static void CheckTimestamps(CheckResult r, List<Operation> txns, Dictionary<long, List<string>> order,
        List<(Operation Op, long Key, List<string> Full, List<string> External)> reads, Func<long, string, Operation?> writerOf)
    {
        static ulong? CommitTs(Operation? op) => op is { Type: "ok" } ? op.Completion?.CommitTs : null;
        foreach (var (key, versions) in order)
        {
            (string Value, ulong Ts, Operation Op)? last = null;
            foreach (var v in versions)
            {
                var w = writerOf(key, v);
                if (CommitTs(w) is not { } ts)
                {
                    continue;
                }
                if (last is { } l && ts <= l.Ts && w!.Index != l.Op.Index)
                {
                    Report(r, $"ts-order: key {key} holds {v} (commit_ts {ts}) after {l.Value} (commit_ts {l.Ts}); versions must follow commit_ts: {l.Op} then {w}");
                }
                last = (v, ts, w!);
            }
        }
        foreach (var (op, key, _, external) in reads)
        {
            if (op.Completion?.StartTs is not { } start || !order.TryGetValue(key, out var versions))
            {
                continue;
            }
            foreach (var v in external)
            {
                var w = writerOf(key, v);
                if (CommitTs(w) is { } ts && ts > start)
                {
                    Report(r, $"ts-future-read: read of key {key} at start_ts {start} saw {v}, committed at {ts} by {w}; reader: {op}");
                    break;
                }
            }
            if (external.Count < versions.Count && versions.Take(external.Count).SequenceEqual(external))
            {
                var missed = writerOf(key, versions[external.Count]);
                if (CommitTs(missed) is { } ts && ts <= start && missed!.Index != op.Index)
                {
                    Report(r, $"ts-stale-read: read of key {key} at start_ts {start} missed {versions[external.Count]}, committed at {ts} by {missed}; reader: {op}");
                }
            }
        }

        // Real time: among the ok transactions that returned before T was invoked, the highest
        // timestamp (commit_ts, or start_ts of a read-only one) must be below T's start_ts.
        var ok = txns.Where(o => o.Type == "ok" && o.Completion?.StartTs is not null).ToList();
        var byEnd = ok.OrderBy(o => o.End).ToList();
        Operation? highest = null;
        ulong highestTs = 0;
        var next = 0;
        var reported = 0;
        foreach (var t in ok.OrderBy(o => o.Start))
        {
            while (next < byEnd.Count && byEnd[next].End < t.Start)
            {
                var c = byEnd[next].Completion!;
                var ts = c.CommitTs ?? c.StartTs!.Value;
                if (highest is null || ts > highestTs)
                {
                    (highest, highestTs) = (byEnd[next], ts);
                }
                next++;
            }
            if (highest is not null && t.Completion!.StartTs!.Value <= highestTs && reported++ < MaxReports)
            {
                Report(r, $"ts-realtime: {t} was invoked after {highest} returned, but its start_ts {t.Completion.StartTs} is not above {highestTs}; the timestamp oracle handed out a timestamp lower than one already used");
            }
        }
    }

    /// <summary>
    /// Closes the caller's rw edge (ending at <paramref name="from"/>) into a cycle with no two
    /// adjacent rw edges: a path from -> to (inclusive) over edges of the kinds in
    /// <paramref name="dep"/> and rw edges, whose first edge is not rw (it follows the caller's rw
    /// edge), which has no two rw edges in a row, and whose last edge is not rw (the caller's rw edge
    /// follows it around the cycle). BFS over (node, entered by an rw edge).
    /// </summary>
    private static List<int>? NonAdjacentPath(Dictionary<int, Dictionary<int, Edge>> graph, int from, int to, Edge dep, HashSet<int> within)
    {
        var start = (from, true); // entered by the caller's rw edge
        var parent = new Dictionary<(int, bool), (int, bool)> { [start] = start };
        var queue = new Queue<(int V, bool ByRw)>([start]);
        while (queue.Count > 0)
        {
            var state = queue.Dequeue();
            if (state == (to, false))
            {
                var path = new List<int>();
                for (var x = state; ; x = parent[x])
                {
                    path.Add(x.Item1);
                    if (x == start)
                    {
                        break;
                    }
                }
                path.Reverse();
                return path;
            }
            if (!graph.TryGetValue(state.V, out var outs))
            {
                continue;
            }
            foreach (var (w, e) in outs)
            {
                if (!within.Contains(w))
                {
                    continue;
                }
                if ((e & dep) != 0 && parent.TryAdd((w, false), state))
                {
                    queue.Enqueue((w, false));
                }
                if ((e & Edge.RW) != 0 && !state.ByRw && parent.TryAdd((w, true), state))
                {
                    queue.Enqueue((w, true));
                }
            }
        }
        return null;
    }

    private static List<Mop> Parse(JsonNode? value)
    {
        var result = new List<Mop>();
        if (value is not JsonArray arr)
        {
            return result;
        }
        foreach (var node in arr)
        {
            if (node is not JsonArray m || m.Count != 3)
            {
                throw new FormatException($"micro-op {node?.ToJsonString()} is not [f, key, value]; expected [\"append\", k, v] or [\"r\", k, list]");
            }
            var f = (string?)m[0];
            var key = (long)m[1]!;
            if (f == "append")
            {
                result.Add(new Mop(f, key, m[2]?.ToString(), null));
            }
            else if (f == "r")
            {
                result.Add(new Mop(f, key, null, m[2] is JsonArray l ? [.. l.Select(x => x!.ToString())] : null));
            }
            else
            {
                throw new FormatException($"micro-op function \"{f}\" is neither append nor r");
            }
        }
        return result;
    }

    /// <summary>Strongly connected components (with a cycle) of the edges of the given kinds (Tarjan, iterative).</summary>
    private static List<List<int>> Components(Dictionary<int, Dictionary<int, Edge>> graph, Edge kinds)
    {
        var index = new Dictionary<int, int>();
        var low = new Dictionary<int, int>();
        var onStack = new HashSet<int>();
        var stack = new Stack<int>();
        var result = new List<List<int>>();
        var next = 0;
        IEnumerable<int> Succ(int v) => graph.TryGetValue(v, out var o) ? o.Where(e => (e.Value & kinds) != 0).Select(e => e.Key) : [];
        foreach (var root in graph.Keys)
        {
            if (index.ContainsKey(root))
            {
                continue;
            }
            var work = new Stack<(int V, IEnumerator<int> It)>();
            index[root] = low[root] = next++;
            stack.Push(root);
            onStack.Add(root);
            work.Push((root, Succ(root).GetEnumerator()));
            while (work.Count > 0)
            {
                var (v, it) = work.Peek();
                if (it.MoveNext())
                {
                    var w = it.Current;
                    if (!index.TryGetValue(w, out var wIndex))
                    {
                        index[w] = low[w] = next++;
                        stack.Push(w);
                        onStack.Add(w);
                        work.Push((w, Succ(w).GetEnumerator()));
                    }
                    else if (onStack.Contains(w))
                    {
                        low[v] = Math.Min(low[v], wIndex);
                    }
                    continue;
                }
                work.Pop();
                if (work.Count > 0)
                {
                    var parent = work.Peek().V;
                    low[parent] = Math.Min(low[parent], low[v]);
                }
                if (low[v] == index[v])
                {
                    var scc = new List<int>();
                    int w;
                    do
                    {
                        w = stack.Pop();
                        onStack.Remove(w);
                        scc.Add(w);
                    }
                    while (w != v);
                    if (scc.Count > 1)
                    {
                        result.Add(scc);
                    }
                }
            }
        }
        return result;
    }

    private static List<int> Cycle(Dictionary<int, Dictionary<int, Edge>> graph, List<int> scc, Edge kinds)
    {
        var set = scc.ToHashSet();
        var start = scc[0];
        foreach (var (b, e) in graph[start])
        {
            if ((e & kinds) != 0 && set.Contains(b) && Path(graph, b, start, kinds, set) is { } p)
            {
                return [start, .. p[..^1]];
            }
        }
        return scc;
    }

    /// <summary>Shortest path from -> to over edges of the given kinds (BFS), from..to inclusive.</summary>
    private static List<int>? Path(Dictionary<int, Dictionary<int, Edge>> graph, int from, int to, Edge kinds, HashSet<int>? within = null)
    {
        var parent = new Dictionary<int, int> { [from] = from };
        var queue = new Queue<int>([from]);
        while (queue.Count > 0)
        {
            var v = queue.Dequeue();
            if (v == to)
            {
                var path = new List<int>();
                for (var x = to; ; x = parent[x])
                {
                    path.Add(x);
                    if (x == from)
                    {
                        break;
                    }
                }
                path.Reverse();
                return path;
            }
            if (!graph.TryGetValue(v, out var outs))
            {
                continue;
            }
            foreach (var (w, e) in outs)
            {
                if ((e & kinds) != 0 && (within is null || within.Contains(w)) && parent.TryAdd(w, v))
                {
                    queue.Enqueue(w);
                }
            }
        }
        return null;
    }
}
