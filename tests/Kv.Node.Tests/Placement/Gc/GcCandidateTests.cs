using System.Collections.Immutable;
using Kv.Client;
using Kv.Node.Placement.Gc;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Placement.Gc;

/// <summary>The candidate safe point: now minus the life time, held back by live service safe points and the oldest lock, never below the current one.</summary>
public class GcCandidateTests
{
    private const long T0 = 1_700_000_000_000;
    private static readonly Timestamp Now = Timestamp.Compose(T0, 7);
    private static readonly TimeSpan Life = TimeSpan.FromMinutes(10);

    private static Timestamp Ms(long ms) => Timestamp.Compose(ms, 0);

    private static ServiceSafePointRecord Service(string name, long tsMs, long renewedMs = T0, long ttlMs = 60_000, string owner = "bob") =>
        new() { Name = name, Owner = owner, Ts = Ms(tsMs).Value, TtlMs = ttlMs, CreatedMs = renewedMs, LastRenewalMs = renewedMs };

    private static GcState State(long safePointMs, params ServiceSafePointRecord[] services) =>
        new(safePointMs == 0 ? null : new GcSafePointRecord { SafePoint = Ms(safePointMs).Value },
            services.ToImmutableSortedDictionary(s => s.Name, s => s, StringComparer.Ordinal));

    [Fact]
    public void Without_holders_the_candidate_is_now_minus_the_life_time()
    {
        var result = GcCandidate.Compute(State(0), Now, T0, Life);
        Assert.Equal(Ms(T0 - 600_000), result.Candidate);
        Assert.True(result.Advances);
        Assert.Equal(GcBoundKind.LifeTime, Assert.Single(result.Holders).Kind);
    }

    [Fact]
    public void The_default_life_time_is_ten_minutes() => Assert.Equal(TimeSpan.FromMinutes(10), GcCandidate.DefaultLifeTime);

    [Fact]
    public void Live_service_safe_points_and_the_oldest_lock_hold_it_back_and_are_ranked_lowest_first()
    {
        var gc = State(0, Service("backup-1", T0 - 900_000), Service("cdc", T0 - 700_000, owner: "carol"));
        var result = GcCandidate.Compute(gc, Now, T0, Life, new OldestLock(Ms(T0 - 800_000), [1, 2]));
        Assert.Equal(Ms(T0 - 900_000), result.Candidate);
        Assert.Equal([GcBoundKind.ServiceSafePoint, GcBoundKind.Lock, GcBoundKind.ServiceSafePoint, GcBoundKind.LifeTime], result.Holders.Select(h => h.Kind));
        Assert.Equal("backup-1", result.Holders[0].Service!.Name);
        Assert.Equal("cdc", result.Holders[2].Service!.Name);
    }

    [Fact]
    public void An_expired_service_safe_point_holds_nothing_back()
    {
        // Renewed at T0 - 120 s with a 60 s TTL: expired 60 s ago.
        var gc = State(0, Service("backup-1", T0 - 900_000, renewedMs: T0 - 120_000));
        var result = GcCandidate.Compute(gc, Now, T0, Life);
        Assert.Equal(Ms(T0 - 600_000), result.Candidate);

        // Control: the same service safe point at a time it is live holds the candidate back.
        Assert.Equal(Ms(T0 - 900_000), GcCandidate.Compute(gc, Now, T0 - 61_000, Life).Candidate);
    }

    [Fact]
    public void The_candidate_never_goes_below_the_current_safe_point()
    {
        var gc = State(T0 - 800_000, Service("backup-1", T0 - 800_000));
        var result = GcCandidate.Compute(gc, Now, T0, Life, new OldestLock(Ms(T0 - 950_000), [1]));
        Assert.Equal(Ms(T0 - 800_000), result.Candidate);
        Assert.False(result.Advances);
        Assert.Equal(GcBoundKind.Lock, result.Holders[0].Kind);
    }
}
