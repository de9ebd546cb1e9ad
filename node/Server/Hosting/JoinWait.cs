namespace Kv.Node.Server.Hosting;

/// <summary>
/// How a new store that is not a placement member waits for the cluster's bootstrap before it
/// can be given a store id: retry with exponential backoff (from <see cref="FirstDelay"/>,
/// doubling, capped at <see cref="MaxDelay"/>, so the store joins within about MaxDelay of the
/// bootstrap), and log the wait on the first refusal and then at most once per
/// <see cref="LogEvery"/>, so a store started long before its cluster does not flood its log.
/// Pure: the caller says how long it has waited; no clock, no I/O.
/// </summary>
internal sealed class JoinWait
{
    private TimeSpan next;
    private TimeSpan? lastLog;

    public JoinWait(TimeSpan firstDelay, TimeSpan maxDelay, TimeSpan logEvery)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(firstDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelay, firstDelay);
        ArgumentOutOfRangeException.ThrowIfLessThan(logEvery, TimeSpan.Zero);
        FirstDelay = firstDelay;
        MaxDelay = maxDelay;
        LogEvery = logEvery;
        next = firstDelay;
    }

    /// <summary>The defaults kv-node uses.</summary>
    public static JoinWait Default() => new(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(15));

    public TimeSpan FirstDelay { get; }

    public TimeSpan MaxDelay { get; }

    public TimeSpan LogEvery { get; }

    /// <summary>Refusals seen so far.</summary>
    public int Refusals { get; private set; }

    /// <summary>
    /// Called after each "not bootstrapped yet" refusal, <paramref name="waited"/> after the wait
    /// began: how long to wait before asking again, and whether to log this refusal.
    /// </summary>
    public (TimeSpan Delay, bool Log) Refused(TimeSpan waited)
    {
        Refusals++;
        var log = lastLog is not { } last || waited - last >= LogEvery;
        if (log)
        {
            lastLog = waited;
        }

        var delay = next;
        next = TimeSpan.FromTicks(Math.Min(next.Ticks * 2, MaxDelay.Ticks));
        return (delay, log);
    }
}
