using Kv.Client.Cluster;

namespace Kv.Client.Tests.Cluster;

public class BackoffTests
{
    private static readonly TimeSpan Base = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan Max = TimeSpan.FromMilliseconds(500);

    [Fact]
    public void Every_delay_is_within_the_full_jitter_ceiling_of_its_step()
    {
        var random = new Random(7);
        for (var attempt = 0; attempt < 64; attempt++)
        {
            var ceiling = TimeSpan.FromTicks(Math.Min(Max.Ticks, Base.Ticks * (1L << Math.Min(attempt, 30))));
            for (var draw = 0; draw < 100; draw++)
            {
                var delay = Backoff.Delay(attempt, Base, Max, TimeSpan.FromHours(1), random.NextDouble());
                Assert.InRange(delay, TimeSpan.Zero, ceiling);
            }
        }
    }

    [Fact]
    public void The_ceiling_doubles_per_step_until_the_cap()
    {
        const double top = 0.999999;
        Assert.Equal(10, Backoff.Delay(0, Base, Max, TimeSpan.FromHours(1), top).TotalMilliseconds, 0.1);
        Assert.Equal(20, Backoff.Delay(1, Base, Max, TimeSpan.FromHours(1), top).TotalMilliseconds, 0.1);
        Assert.Equal(320, Backoff.Delay(5, Base, Max, TimeSpan.FromHours(1), top).TotalMilliseconds, 0.1);
        Assert.Equal(500, Backoff.Delay(6, Base, Max, TimeSpan.FromHours(1), top).TotalMilliseconds, 0.1);
        Assert.Equal(500, Backoff.Delay(1000, Base, Max, TimeSpan.FromHours(1), top).TotalMilliseconds, 0.1);
        Assert.Equal(TimeSpan.Zero, Backoff.Delay(3, Base, Max, TimeSpan.FromHours(1), 0));
    }

    [Fact]
    public void A_delay_never_runs_past_the_deadline()
    {
        var remaining = TimeSpan.FromMilliseconds(3);
        Assert.Equal(remaining, Backoff.Delay(10, Base, Max, remaining, 0.999));
        Assert.Equal(TimeSpan.Zero, Backoff.Delay(10, Base, Max, TimeSpan.Zero, 0.999));
        Assert.Equal(TimeSpan.Zero, Backoff.Delay(10, Base, Max, TimeSpan.FromSeconds(-1), 0.999));
    }

    [Fact]
    public void Jitter_spreads_delays_across_the_window()
    {
        // Full jitter: with a seeded source, delays of one step are not all alike (no thundering herd).
        var random = new Random(11);
        var delays = Enumerable.Range(0, 200).Select(_ => Backoff.Delay(6, Base, Max, TimeSpan.FromHours(1), random.NextDouble())).ToList();
        Assert.True(delays.Min() < TimeSpan.FromMilliseconds(100));
        Assert.True(delays.Max() > TimeSpan.FromMilliseconds(400));
    }
}
