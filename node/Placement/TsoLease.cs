using System.Diagnostics;

namespace Kv.Node.Placement;

/// <summary>
/// The placement leader's TSO lease (shared/DESIGN.md section 6): the rule that decides whether
/// this leader may hand out a timestamp now. Pure: every time is a reading of this node's
/// monotonic clock in milliseconds (arbitrary origin), passed in, never read here. Not
/// thread-safe: the caller serializes calls (the leader session's lease lock).
///
/// The property it protects: if a GetTimestamp request A completes before request B starts,
/// ts(A) &lt; ts(B), even when A and B go to different leaders and the older leader was paused
/// (SIGSTOP, a long GC) or partitioned and still believes it leads.
///
/// Assumptions:
///   D. Every member's monotonic clock advances at a rate within [1 - rho, 1 + rho] of real time
///      (rho = <c>maxDriftRate</c>, default 0.1, far above NTP-slewed clocks' 0.0005). Clocks need
///      not agree on a value, only on rates. CLOCK_MONOTONIC keeps running while a process is
///      stopped, so a pause counts against the lease; a whole-machine suspend does not (a VM
///      frozen with its clock is outside this model).
///   R. Raft as implemented in node/Raft: a member that granted its vote in term T2 never again
///      acknowledges a heartbeat of a term T1 &lt; T2, and a leader counts a heartbeat round's
///      acknowledgement only from members in its own term (ReadIndex, ReadOnlySafe).
///
/// The rule:
///   1. A leader of term T1 records s = now BEFORE it starts a quorum heartbeat round (a read
///      barrier). When a quorum Q1 acknowledges the round, the lease runs until s + L
///      (<see cref="Confirmed"/>). It serves only while now &lt; s + L (<see cref="Check"/>).
///   2. A leader of term T2 reads e = now once it knows it leads, and serves nothing before
///      e + W, W = L * (1 + rho) / (1 - rho) + 1 ms (<see cref="ServeNotBeforeMs"/>).
///   3. Every timestamp a leader serves lies within the window persisted through Raft, and a new
///      leader's first timestamp lies above the persisted window it reads after a read barrier
///      in its term (<see cref="TsoAllocator"/>).
///
/// Why no older leader serves after a newer one has (real times written t(...)):
///   Q1 and the quorum Q2 that elected T2 share a member f. By R, f acknowledged T1's round
///   before it voted in T2, and the round started before f's acknowledgement; T2's leader read e
///   after the vote. So t(s) &lt; t(e). T1's leader serves at a local time below s + L, that is by
///   real time t(s) + L / (1 - rho) (its clock is at least that slow, by D). T2's leader serves at
///   a local time at or above e + W, that is not before t(e) + W / (1 + rho) &gt; t(s) + L / (1 - rho).
///   So every timestamp of T1 was handed out, in real time, before any of T2's. By 3 its value is
///   also below all of T2's. Within a term the allocator only goes up. Hence real-time order and
///   timestamp order agree across every pair of leaders, and no two leaders hand out the same
///   timestamp. The argument holds for any T1 &lt; T2, not just adjacent terms.
///
/// What happens on a pause: the old leader's lease keeps expiring in (monotonic) time while it
///   is stopped; on resume its first request finds the lease expired and must renew it with a
///   heartbeat round, which a quorum that moved to a newer term refuses (the leader then steps
///   down). A request that passed the check just before the pause is concurrent with anything
///   served during the pause, so its answer, however late, breaks no real-time order.
///
/// The lease length L only trades renewal traffic against failover delay; safety rests on W.
/// </summary>
internal sealed class TsoLease
{
    /// <summary>Default lease length: one placement election timeout (10 ticks of 100 ms).</summary>
    public const long DefaultLeaseMs = 1_000;

    /// <summary>Default bound on clock rate error (assumption D).</summary>
    public const double DefaultMaxDriftRate = 0.1;

    private readonly long _leaseMs;
    private readonly bool _unsafeServeWithoutLease;

    // The lease holds while now < _expiresAtMs; long.MinValue before the first confirmed round.
    private long _expiresAtMs = long.MinValue;

    /// <param name="leaseMs">L: how long a confirmed heartbeat round lets this leader serve.</param>
    /// <param name="maxDriftRate">rho: the bound on clock rate error (0 &lt;= rho &lt; 0.5).</param>
    /// <param name="electedAtMs">e: this node's monotonic time when it learned it leads this term.</param>
    /// <param name="unsafeServeWithoutLease">Tests only (the negative control): serve on the local belief of leadership alone.</param>
    public TsoLease(long leaseMs, double maxDriftRate, long electedAtMs, bool unsafeServeWithoutLease = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(leaseMs, 1);
        if (!(maxDriftRate >= 0 && maxDriftRate < 0.5))
        {
            throw new ArgumentOutOfRangeException(nameof(maxDriftRate), maxDriftRate, "the clock drift bound must be at least 0 and below 0.5 (a rate error of 50 %)");
        }

        _leaseMs = leaseMs;
        _unsafeServeWithoutLease = unsafeServeWithoutLease;
        ServeNotBeforeMs = unsafeServeWithoutLease ? electedAtMs : electedAtMs + WaitOutMs(leaseMs, maxDriftRate);
    }

    /// <summary>L, in ms of the local monotonic clock.</summary>
    public long LeaseMs => _leaseMs;

    /// <summary>e + W: before this local time, an earlier leader's lease may still run.</summary>
    public long ServeNotBeforeMs { get; }

    /// <summary>The local time the lease ends (exclusive); <see cref="long.MinValue"/> when never confirmed.</summary>
    public long ExpiresAtMs => _expiresAtMs;

    /// <summary>W for a lease of <paramref name="leaseMs"/>: long enough that any earlier leader's lease has ended in real time.</summary>
    public static long WaitOutMs(long leaseMs, double maxDriftRate) =>
        (long)Math.Ceiling(leaseMs * (1 + maxDriftRate) / (1 - maxDriftRate)) + 1;

    /// <summary>
    /// A quorum acknowledged a heartbeat round of this term that started (was about to be sent)
    /// at local time <paramref name="roundStartedAtMs"/>. The lease never shrinks.
    /// </summary>
    public void Confirmed(long roundStartedAtMs)
    {
        long end = roundStartedAtMs + _leaseMs;
        if (end > _expiresAtMs)
        {
            _expiresAtMs = end;
        }
    }

    /// <summary>Whether this leader may serve at local time <paramref name="nowMs"/>, and if not, what to do.</summary>
    public TsoLeaseCheck Check(long nowMs)
    {
        if (_unsafeServeWithoutLease)
        {
            return TsoLeaseCheck.Serve;
        }

        if (nowMs < ServeNotBeforeMs)
        {
            return TsoLeaseCheck.WaitOutEarlierLeader;
        }

        return nowMs < _expiresAtMs ? TsoLeaseCheck.Serve : TsoLeaseCheck.Renew;
    }

    /// <summary>Whether a background renewal is due at <paramref name="nowMs"/>: less than half the lease is left.</summary>
    public bool ShouldRenew(long nowMs)
    {
        Debug.Assert(_leaseMs > 0, "the lease has a length");
        return !_unsafeServeWithoutLease && _expiresAtMs - nowMs < _leaseMs / 2;
    }
}

/// <summary>The outcome of <see cref="TsoLease.Check"/>.</summary>
internal enum TsoLeaseCheck
{
    /// <summary>The lease holds: serve.</summary>
    Serve,

    /// <summary>A new leader is still waiting out earlier leaders' leases: wait until ServeNotBeforeMs.</summary>
    WaitOutEarlierLeader,

    /// <summary>The lease expired (or was never confirmed): run a quorum heartbeat round before serving.</summary>
    Renew,
}
