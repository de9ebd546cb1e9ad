using Kv.Node.Server.Hosting;

namespace Kv.Node.Tests.Server;

/// <summary>The wait of a new non-member store for the bootstrap: backoff and how often it logs (pure, no clock).</summary>
public sealed class JoinWaitTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public void Retries_back_off_from_the_first_delay_doubling_up_to_the_cap()
    {
        var wait = new JoinWait(Ms(200), Ms(2000), TimeSpan.FromSeconds(15));
        var delays = Enumerable.Range(0, 7).Select(i => wait.Refused(Ms(i * 100)).Delay.TotalMilliseconds).ToArray();

        Assert.Equal([200, 400, 800, 1600, 2000, 2000, 2000], delays);
        Assert.Equal(7, wait.Refusals);
    }

    [Fact]
    public void It_logs_the_first_refusal_then_at_most_once_per_interval()
    {
        var wait = new JoinWait(Ms(200), Ms(2000), TimeSpan.FromSeconds(15));
        var logged = new List<double>();
        for (var t = 0.0; t <= 40; t += 2)
        {
            if (wait.Refused(TimeSpan.FromSeconds(t)).Log)
            {
                logged.Add(t);
            }
        }

        Assert.Equal([0, 16, 32], logged);
    }

    [Fact]
    public void The_defaults_join_within_two_seconds_of_a_bootstrap_and_log_every_15_seconds()
    {
        var wait = JoinWait.Default();
        Assert.Equal(Ms(200), wait.FirstDelay);
        Assert.Equal(TimeSpan.FromSeconds(2), wait.MaxDelay);
        Assert.Equal(TimeSpan.FromSeconds(15), wait.LogEvery);
    }

    [Fact]
    public void Nonsensical_settings_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new JoinWait(TimeSpan.Zero, Ms(10), Ms(10)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new JoinWait(Ms(100), Ms(10), Ms(10)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new JoinWait(Ms(100), Ms(100), Ms(-1)));
    }
}
