using Kv.Client;
using Kv.Node.Placement;

namespace Kv.Node.Tests.Placement;

/// <summary>
/// Seeded simulation of the TSO lease rule (node/Placement/TsoLease.cs) with the real
/// <see cref="TsoLease"/> and <see cref="TsoAllocator"/> and a model of the Raft promises the
/// rule rests on (assumption R: a member that moved to a newer term acknowledges no heartbeat
/// of an older one; a new leader needs a quorum's votes). Three placement members, monotonic
/// clocks that run at seeded rates within the stated drift bound, client requests every few
/// milliseconds to whichever member a (possibly stale) client believes leads, and one fault:
/// the leader is paused (SIGSTOP: it neither acts nor answers) or partitioned away, a new
/// leader is elected, then the old one resumes still believing it leads.
/// The checker: whenever request A completed before request B started, ts(A) &lt; ts(B);
/// and no timestamp is handed out twice.
/// </summary>
public class TsoLeaseSimulationTests
{
    private const long T0 = 1_700_000_000_000;
    private const long LeaseMs = 100;
    private const double Drift = 0.1;
    private const int Seeds = 40;

    [Fact]
    public void Timestamps_follow_real_time_order_across_failover_on_every_seed_with_pauses_and_partitions()
    {
        for (int seed = 0; seed < Seeds; seed++)
        {
            var run = new LeaseSimulation(seed, unsafeWithoutLease: false).Run();
            Assert.True(run.Violation is null, $"seed {seed}: {run.Violation}");
            Assert.True(run.ServedByNewLeader > 0, $"seed {seed}: the new leader served nothing, so the run checked nothing across the failover");
        }
    }

    [Fact]
    public void An_old_leader_paused_past_its_lease_refuses_after_resuming_and_steps_down()
    {
        for (int seed = 0; seed < Seeds; seed++)
        {
            var run = new LeaseSimulation(seed, unsafeWithoutLease: false, partition: false).Run();
            Assert.True(run.OldLeaderServedAfterFault == 0, $"seed {seed}: the paused leader served {run.OldLeaderServedAfterFault} timestamps after resuming");
            Assert.True(run.OldLeaderSteppedDown, $"seed {seed}: the resumed leader never learned of the newer term");
            Assert.True(run.OldLeaderRefusedAfterFault > 0, $"seed {seed}: no request reached the resumed leader, so the run checked nothing");
        }
    }

    [Fact]
    public void A_new_leader_serves_nothing_before_the_old_leaders_lease_has_ended_in_real_time()
    {
        for (int seed = 0; seed < Seeds; seed++)
        {
            var run = new LeaseSimulation(seed, unsafeWithoutLease: false).Run();
            Assert.True(run.NewLeaderFirstServeAt >= run.OldLeaseEndsAt,
                $"seed {seed}: the new leader served at real time {run.NewLeaderFirstServeAt:0.##} ms, before the old lease ended at {run.OldLeaseEndsAt:0.##} ms");
            Assert.True(run.NewLeaderRefusedWhileWaiting > 0, $"seed {seed}: no request reached the new leader while it waited, so the wait was not exercised");
        }
    }

    [Fact]
    public void Negative_control_serving_without_the_lease_hands_out_a_timestamp_lower_than_one_already_served()
    {
        int detected = 0;
        for (int seed = 0; seed < Seeds; seed++)
        {
            if (new LeaseSimulation(seed, unsafeWithoutLease: true).Run().Violation is not null)
            {
                detected++;
            }
        }

        Assert.True(detected * 100 >= Seeds * 95, $"the checker caught the lease-free TSO on only {detected} of {Seeds} seeds (want at least 95 %)");
    }

    [Fact]
    public void The_wait_covers_the_drift_bound()
    {
        // Old lease ends by real time s + L / (1 - rho); the new leader starts no earlier than
        // e + W / (1 + rho) with e >= s: W / (1 + rho) must exceed L / (1 - rho).
        long w = TsoLease.WaitOutMs(LeaseMs, Drift);
        Assert.True(w / (1 + Drift) > LeaseMs / (1 - Drift), $"W = {w} ms does not cover L = {LeaseMs} ms at drift {Drift}");

        var lease = new TsoLease(LeaseMs, Drift, electedAtMs: 1_000);
        Assert.Equal(TsoLeaseCheck.WaitOutEarlierLeader, lease.Check(1_000 + w - 1));
        Assert.Equal(TsoLeaseCheck.Renew, lease.Check(1_000 + w));
        lease.Confirmed(1_000 + w);
        Assert.Equal(TsoLeaseCheck.Serve, lease.Check(1_000 + w + LeaseMs - 1));
        Assert.Equal(TsoLeaseCheck.Renew, lease.Check(1_000 + w + LeaseMs));
        lease.Confirmed(1_000); // an older round never shrinks the lease
        Assert.Equal(1_000 + w + LeaseMs, lease.ExpiresAtMs);
    }

    private sealed class Member(int id, double rate, double offset, long utcSkewMs)
    {
        public int Id { get; } = id;

        public ulong Term { get; set; }

        /// <summary>Not 0: the term this member believes it leads.</summary>
        public ulong LeaderTerm { get; set; }

        public TsoLease? Lease { get; set; }

        public TsoAllocator? Tso { get; set; }

        /// <summary>The persisted window end as applied on this member.</summary>
        public long WindowEndMs { get; set; }

        public long Local(double t) => (long)Math.Floor(offset + (rate * t));

        public double RealTimeOfLocal(long local) => (local - offset) / rate;

        public long UtcMs(double t) => T0 + (long)t + utcSkewMs;
    }

    private sealed record Served(double Start, double End, ulong Ts, int By);

    private sealed record Outcome(string? Violation, int ServedByNewLeader, int OldLeaderServedAfterFault, int OldLeaderRefusedAfterFault,
        bool OldLeaderSteppedDown, double NewLeaderFirstServeAt, double OldLeaseEndsAt, int NewLeaderRefusedWhileWaiting);

    private sealed class LeaseSimulation
    {
        private readonly Random _random;
        private readonly bool _unsafe;
        private readonly bool _partition;
        private readonly Member[] _members;
        private readonly List<Served> _served = [];
        private long _committedWindowEndMs;
        private ulong _maxTerm;
        private double _faultStart;
        private double _faultEnd;

        public LeaseSimulation(int seed, bool unsafeWithoutLease, bool? partition = null)
        {
            _random = new Random(seed);
            _unsafe = unsafeWithoutLease;
            _partition = partition ?? (seed % 2 == 1);
            _members = [.. Enumerable.Range(0, 3).Select(i => new Member(i, 1 - Drift + (2 * Drift * _random.NextDouble()), _random.Next(0, 1_000_000), _random.Next(-50, 50)))];
        }

        // Paused (SIGSTOP) or partitioned: member 0 during the fault takes no part.
        private bool Cut(Member m, double t) => m.Id == 0 && t >= _faultStart && t < _faultEnd;

        private bool Paused(Member m, double t) => !_partition && Cut(m, t);

        private static bool Quorum(int acks) => acks + 1 >= 2;

        public Outcome Run()
        {
            _faultStart = _random.Next(300, 600);
            _faultEnd = _faultStart + _random.Next(500, 1_500);
            double electAt = _faultStart + _random.Next(150, 300);
            int servedByNew = 0, oldServedAfter = 0, oldRefusedAfter = 0, newRefusedWaiting = 0;
            double newFirstServe = double.PositiveInfinity;
            double oldLeaseEnds = double.NaN;
            bool elected = false;
            Elect(_members[0], 0);
            for (double t = 0; t < 3_000; t += 1)
            {
                if (!elected && t >= electAt)
                {
                    var old = _members[0];
                    oldLeaseEnds = old.Lease!.ExpiresAtMs == long.MinValue ? 0 : old.RealTimeOfLocal(old.Lease.ExpiresAtMs);
                    Elect(_members[1], t);
                    elected = true;
                }

                // The leaders' background lease renewal (RenewLeaseAhead): only ahead of expiry,
                // as the service starts it after serving; an expired lease is renewed in the request path.
                foreach (var m in _members)
                {
                    if (m.LeaderTerm != 0 && !Paused(m, t) && m.Tso is not null && m.Lease!.Check(m.Local(t)) == TsoLeaseCheck.Serve && m.Lease.ShouldRenew(m.Local(t)))
                    {
                        Renew(m, t);
                    }
                }

                if (_random.Next(3) != 0)
                {
                    continue;
                }

                // A client asks a member that believes it leads (clients may hold a stale leader).
                var believers = _members.Where(m => m.LeaderTerm != 0 && !Paused(m, t)).ToList();
                if (believers.Count == 0)
                {
                    continue;
                }

                var to = believers[_random.Next(believers.Count)];
                double end = t + (_random.Next(0, 4) * 0.25);
                ulong? ts = Request(to, t, end);
                if (ts is { } got)
                {
                    _served.Add(new Served(t, end, got, to.Id));
                    if (to.Id == 1)
                    {
                        servedByNew++;
                        newFirstServe = Math.Min(newFirstServe, t);
                    }
                    else if (t >= _faultEnd)
                    {
                        oldServedAfter++;
                    }
                }
                else if (to.Id == 0 && t >= _faultEnd)
                {
                    oldRefusedAfter++;
                }
                else if (to.Id == 1 && servedByNew == 0)
                {
                    newRefusedWaiting++;
                }
            }

            return new Outcome(Check(), servedByNew, oldServedAfter, oldRefusedAfter, _members[0].LeaderTerm == 0 && _members[0].Term > 1,
                newFirstServe, oldLeaseEnds, newRefusedWaiting);
        }

        private void Elect(Member c, double t)
        {
            ulong term = ++_maxTerm;
            c.Term = term;
            int votes = 0;
            foreach (var m in _members)
            {
                if (m != c && !Cut(m, t) && m.Term < term)
                {
                    m.Term = term;
                    m.LeaderTerm = 0;
                    votes++;
                }
            }

            Assert.True(Quorum(votes), "the model elects only with a quorum");
            c.LeaderTerm = term;
            c.Lease = new TsoLease(LeaseMs, Drift, c.Local(t), _unsafe);
            c.Tso = null; // reset after the first read barrier of the term
        }

        /// <summary>A heartbeat round of the leader's term at real time t: acks from reachable members not in a newer term; a newer term makes the leader step down.</summary>
        private bool Round(Member l, double t)
        {
            int acks = 0;
            foreach (var m in _members)
            {
                if (m == l || Cut(m, t) || Cut(l, t))
                {
                    continue;
                }

                if (m.Term > l.LeaderTerm)
                {
                    l.Term = m.Term;
                    l.LeaderTerm = 0;
                    return false;
                }

                m.Term = l.LeaderTerm;
                acks++;
            }

            return Quorum(acks);
        }

        private bool Renew(Member l, double t)
        {
            long started = l.Local(t);
            if (!Round(l, t))
            {
                return false;
            }

            l.Lease!.Confirmed(started);
            return true;
        }

        /// <summary>The service's GetTimestamp path (PlacementService.GetTimestamp) for one timestamp; null when refused.</summary>
        private ulong? Request(Member l, double start, double end)
        {
            if (l.Tso is null)
            {
                if (l.Lease!.Check(l.Local(start)) == TsoLeaseCheck.WaitOutEarlierLeader || !Renew(l, start))
                {
                    return null;
                }

                l.WindowEndMs = _committedWindowEndMs; // the read barrier applied everything committed
                l.Tso = new TsoAllocator(3_000);
                l.Tso.Reset(l.WindowEndMs);
            }

            for (int attempt = 0; attempt < 3; attempt++)
            {
                if (l.LeaderTerm == 0)
                {
                    return null;
                }

                if (l.Lease!.Check(l.Local(end)) != TsoLeaseCheck.Serve)
                {
                    if (!Renew(l, end))
                    {
                        return null;
                    }

                    continue;
                }

                var step = l.Tso.Allocate(l.UtcMs(end), l.WindowEndMs, 1);
                if (step.IsAllocated)
                {
                    return step.Last.Value;
                }

                if (!Round(l, end))
                {
                    return null;
                }

                _committedWindowEndMs = Math.Max(_committedWindowEndMs, step.NeedWindowEndMs);
                l.WindowEndMs = _committedWindowEndMs;
            }

            return null;
        }

        /// <summary>Unique timestamps, and A ended before B started implies ts(A) &lt; ts(B).</summary>
        private string? Check()
        {
            var dup = _served.GroupBy(s => s.Ts).FirstOrDefault(g => g.Count() > 1);
            if (dup is not null)
            {
                return $"timestamp {new Timestamp(dup.Key)} was handed out {dup.Count()} times";
            }

            var byEnd = _served.OrderBy(s => s.End).ToList();
            var byStart = _served.OrderBy(s => s.Start).ToList();
            Served? highest = null;
            int next = 0;
            foreach (var b in byStart)
            {
                while (next < byEnd.Count && byEnd[next].End < b.Start)
                {
                    if (highest is null || byEnd[next].Ts > highest.Ts)
                    {
                        highest = byEnd[next];
                    }

                    next++;
                }

                if (highest is not null && b.Ts <= highest.Ts)
                {
                    return $"member {b.By} handed out {new Timestamp(b.Ts)} at {b.Start:0.##} ms, after member {highest.By} had already handed out {new Timestamp(highest.Ts)} (completed at {highest.End:0.##} ms)";
                }
            }

            return null;
        }
    }
}
