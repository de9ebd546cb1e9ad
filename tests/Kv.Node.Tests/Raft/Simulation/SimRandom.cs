using Kv.Node.Raft;

namespace Kv.Node.Tests.Raft.Simulation;

/// <summary>
/// SplitMix64: a tiny, fully specified PRNG, so a seed replays identically on any .NET version
/// (System.Random's algorithm is an implementation detail). Not for security.
/// </summary>
internal sealed class SimRandom : IElectionRandom
{
    private ulong state;

    public SimRandom(ulong seed)
    {
        state = seed;
    }

    public ulong NextUInt64()
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, maxExclusive).</summary>
    public int Next(int maxExclusive) => maxExclusive <= 1 ? 0 : (int)(NextUInt64() % (ulong)maxExclusive);

    /// <summary>True with probability p (0..1).</summary>
    public bool Chance(double p) => (NextUInt64() >> 11) * (1.0 / (1UL << 53)) < p;

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    /// <summary>An independent generator derived from this one (for a per-node election source).</summary>
    public SimRandom Fork() => new(NextUInt64());
}
