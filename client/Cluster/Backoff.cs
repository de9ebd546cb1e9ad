namespace Kv.Client.Cluster;

/// <summary>
/// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
/// Jitter"): step n waits a uniform draw from [0, min(max, base * 2^n)], never past the
/// operation's deadline. Pure: the random draw is an argument.
/// </summary>
internal static class Backoff
{
    /// <summary>
    /// The jitter draws a client uses: seeded (reproducible in tests, thread-safe) when seed is
    /// set, else the shared generator.
    /// </summary>
    public static Func<double> Jitter(int? seed)
    {
        if (seed is not { } s)
        {
            return Random.Shared.NextDouble;
        }

#pragma warning disable CA5394 // jitter, not security
        var random = new Random(s);
#pragma warning restore CA5394
        var gate = new object();
        return () =>
        {
            lock (gate)
            {
                return random.NextDouble();
            }
        };
    }

    /// <param name="attempt">0 for the first retry.</param>
    /// <param name="baseDelay">The first step's ceiling.</param>
    /// <param name="maxDelay">The cap on every step's ceiling.</param>
    /// <param name="unit">A uniform draw from [0, 1).</param>
    /// <param name="remaining">Time left before the operation's deadline; the delay never exceeds it.</param>
    public static TimeSpan Delay(int attempt, TimeSpan baseDelay, TimeSpan maxDelay, TimeSpan remaining, double unit)
    {
        if (remaining <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        // 2^attempt overflows long ticks near attempt 40; the cap is reached long before.
        var exponent = Math.Min(Math.Max(attempt, 0), 30);
        var ceilingTicks = Math.Min(maxDelay.Ticks, baseDelay.Ticks * (1L << exponent));
        if (ceilingTicks <= 0 || ceilingTicks > maxDelay.Ticks)
        {
            ceilingTicks = maxDelay.Ticks;
        }

        var ticks = (long)(ceilingTicks * Math.Clamp(unit, 0.0, 1.0));
        return TimeSpan.FromTicks(Math.Min(ticks, remaining.Ticks));
    }
}
