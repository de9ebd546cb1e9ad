using Kv.Client;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Gc;

/// <summary>What holds the GC safe point back, one kind per reason.</summary>
internal enum GcBoundKind
{
    /// <summary>The GC life time: versions younger than now minus the life time are kept.</summary>
    LifeTime,

    /// <summary>A live service safe point (a backup, a changefeed).</summary>
    ServiceSafePoint,

    /// <summary>The oldest unresolved lock: its transaction reads at its start_ts.</summary>
    Lock,
}

/// <summary>
/// One thing that bounds the candidate: the candidate is at most <see cref="Ts"/>. Service fields
/// are set for <see cref="GcBoundKind.ServiceSafePoint"/>, lock fields for <see cref="GcBoundKind.Lock"/>.
/// </summary>
internal sealed record GcBound(GcBoundKind Kind, Timestamp Ts, string Description)
{
    public ServiceSafePointRecord? Service { get; init; }

    /// <summary>The lock's primary key (redacted by the caller as it sees fit).</summary>
    public byte[]? LockPrimary { get; init; }
}

/// <summary>The oldest unresolved lock a caller found (a value reported into the computation: placement does not read locks itself).</summary>
internal readonly record struct OldestLock(Timestamp StartTs, byte[] Primary);

/// <summary>The next safe point GC may publish and everything that holds it back, lowest bound first.</summary>
internal sealed record GcCandidateResult(Timestamp Candidate, Timestamp Current, IReadOnlyList<GcBound> Holders)
{
    /// <summary>Whether a round would move the safe point.</summary>
    public bool Advances => Candidate > Current;
}

/// <summary>
/// The GC candidate safe point (shared/DESIGN.md section 6), pure: now minus the GC life time,
/// held back by every live service safe point and by the oldest unresolved lock, never below the
/// current safe point (it never moves back). The holders are ranked lowest first, so the first
/// one is what an operator must deal with to let GC advance (kvctl gc why).
/// </summary>
internal static class GcCandidate
{
    /// <summary>The GC life time when none is configured.</summary>
    public static readonly TimeSpan DefaultLifeTime = TimeSpan.FromMinutes(10);

    /// <param name="gc">The replicated GC state.</param>
    /// <param name="now">The TSO's now.</param>
    /// <param name="nowMs">The caller's clock (decides which service safe points are live).</param>
    /// <param name="lifeTime">How long versions are kept after they were replaced.</param>
    /// <param name="oldestLock">The oldest unresolved lock, when the caller looked; null when none (or not looked at).</param>
    public static GcCandidateResult Compute(GcState gc, Timestamp now, long nowMs, TimeSpan lifeTime, OldestLock? oldestLock = null)
    {
        ArgumentNullException.ThrowIfNull(gc);
        ArgumentOutOfRangeException.ThrowIfLessThan(lifeTime, TimeSpan.Zero);
        var holders = new List<GcBound>();
        long lifeMs = (long)lifeTime.TotalMilliseconds;
        var byLife = now.PhysicalMs > lifeMs ? Timestamp.Compose(now.PhysicalMs - lifeMs, 0) : Timestamp.Zero;
        holders.Add(new GcBound(GcBoundKind.LifeTime, byLife, $"GC life time {lifeTime}: versions newer than now minus the life time are kept"));
        foreach (var service in gc.Services.Values)
        {
            if (GcState.IsLive(service, nowMs))
            {
                holders.Add(new GcBound(GcBoundKind.ServiceSafePoint, new Timestamp(service.Ts),
                    $"service safe point '{service.Name}' (owner {service.Owner}), live until {GcState.Expires(service)}") { Service = service });
            }
        }

        if (oldestLock is { } lk)
        {
            // The lock's transaction reads at its start_ts, so versions visible there must stay
            // until the lock is resolved (a GC round resolves locks below the candidate first).
            holders.Add(new GcBound(GcBoundKind.Lock, lk.StartTs, $"unresolved lock of the transaction started at {lk.StartTs}") { LockPrimary = lk.Primary });
        }

        holders.Sort(static (a, b) => a.Ts != b.Ts ? a.Ts.CompareTo(b.Ts) : a.Kind.CompareTo(b.Kind));
        var candidate = holders[0].Ts;
        var current = gc.SafePoint;
        return new GcCandidateResult(candidate > current ? candidate : current, current, holders);
    }
}
