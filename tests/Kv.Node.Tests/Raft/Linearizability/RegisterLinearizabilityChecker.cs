namespace Kv.Node.Tests.Raft.Linearizability;

/// <summary>
/// Decides whether a history of reads and writes on one register (initial value 0) is
/// linearizable: Wing and Gong's search with Lowe's memoization of (linearized set, value).
/// At each point, an operation may be linearized next only if it was invoked before every
/// not-yet-linearized completed operation returned. Pending writes may be linearized at any
/// point after their invocation, or never. Histories here are small (tens to a few hundred ops,
/// little concurrency), which this search handles easily.
/// </summary>
internal static class RegisterLinearizabilityChecker
{
    public static bool IsLinearizable(IReadOnlyList<RegisterOp> history) => Check(history, out _);

    /// <summary>Returns false with a description of the longest linearizable prefix found.</summary>
    public static bool Check(IReadOnlyList<RegisterOp> history, out string explanation, int maxStates = 2_000_000)
    {
        // Reads without a result say nothing. A pending write whose value no read returned may be
        // linearized "never", so dropping it is sound, and it removes most of the search's branching.
        var observed = history.Where(o => o.Kind == RegisterOpKind.Read && !o.IsPending).Select(o => o.Value).ToHashSet();
        var ops = history
            .Where(o => !(o.Kind == RegisterOpKind.Read && o.IsPending))
            .Where(o => !(o.Kind == RegisterOpKind.Write && o.IsPending && !observed.Contains(o.Value)))
            .OrderBy(o => o.Invoke)
            .ToArray();
        foreach (var o in ops)
        {
            if (o.Return <= o.Invoke)
            {
                throw new ArgumentException($"operation returns before it is invoked: {o}", nameof(history));
            }
        }

        var search = new Search(ops, maxStates);
        if (search.Run())
        {
            explanation = "linearizable";
            return true;
        }

        if (search.BudgetExceeded)
        {
            // Deterministic per history: a history this tangled is reported, never silently passed.
            explanation = $"undecided: search budget of {maxStates} states exceeded on {ops.Length} ops";
            return false;
        }

        explanation = $"not linearizable; deepest linearized prefix ({search.BestDepth} of {ops.Count(o => !o.IsPending)} completed ops): "
            + string.Join(", ", search.BestPath.Select(i => ops[i].ToString()))
            + $"; history: {string.Join(", ", ops.Select(o => o.ToString()))}";
        return false;
    }

    private sealed class Search
    {
        private readonly RegisterOp[] ops;
        private readonly ulong[] done;
        private readonly HashSet<StateKey> seen = [];
        private readonly List<int> path = [];
        private int remainingCompleted;

        private readonly int maxStates;

        public Search(RegisterOp[] ops, int maxStates)
        {
            this.ops = ops;
            this.maxStates = maxStates;
            done = new ulong[(ops.Length + 63) / 64];
            remainingCompleted = ops.Count(o => !o.IsPending);
        }

        public bool BudgetExceeded { get; private set; }

        public int BestDepth { get; private set; } = -1;

        public List<int> BestPath { get; private set; } = [];

        public bool Run() => Step(0);

        private bool IsDone(int i) => (done[i >> 6] & (1UL << (i & 63))) != 0;

        private void Flip(int i) => done[i >> 6] ^= 1UL << (i & 63);

        private bool Step(ulong value)
        {
            if (remainingCompleted == 0)
            {
                return true;
            }

            if (seen.Count > maxStates)
            {
                BudgetExceeded = true;
                return false;
            }

            var completedDepth = path.Count(i => !ops[i].IsPending);
            if (completedDepth > BestDepth)
            {
                BestDepth = completedDepth;
                BestPath = [.. path];
            }

            var minReturn = long.MaxValue;
            for (var i = 0; i < ops.Length; i++)
            {
                if (!IsDone(i) && ops[i].Return < minReturn)
                {
                    minReturn = ops[i].Return;
                }
            }

            for (var i = 0; i < ops.Length && ops[i].Invoke < minReturn; i++)
            {
                if (IsDone(i))
                {
                    continue;
                }

                var op = ops[i];
                ulong next;
                if (op.Kind == RegisterOpKind.Read)
                {
                    if (op.Value != value)
                    {
                        continue;
                    }

                    next = value;
                }
                else
                {
                    next = op.Value;
                }

                Flip(i);
                if (seen.Add(new StateKey((ulong[])done.Clone(), next)))
                {
                    if (!op.IsPending)
                    {
                        remainingCompleted--;
                    }

                    path.Add(i);
                    if (Step(next))
                    {
                        return true;
                    }

                    path.RemoveAt(path.Count - 1);
                    if (!op.IsPending)
                    {
                        remainingCompleted++;
                    }
                }

                Flip(i);
            }

            return false;
        }
    }

    private readonly struct StateKey(ulong[] bits, ulong value) : IEquatable<StateKey>
    {
        private readonly ulong[] bits = bits;
        private readonly ulong value = value;

        public bool Equals(StateKey other) => value == other.value && bits.AsSpan().SequenceEqual(other.bits);

        public override bool Equals(object? obj) => obj is StateKey k && Equals(k);

        public override int GetHashCode()
        {
            var h = new HashCode();
            h.Add(value);
            foreach (var b in bits)
            {
                h.Add(b);
            }

            return h.ToHashCode();
        }
    }
}
