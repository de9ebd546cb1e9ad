namespace Kv.Node.Raft;

/// <summary>
/// The only source of randomness in the core: it picks randomized election timeouts. Injected so
/// that a seeded implementation makes every run reproducible.
/// </summary>
internal interface IElectionRandom
{
    /// <summary>A value in [0, maxExclusive).</summary>
    int Next(int maxExclusive);
}
