using Kv.Node.Ranges.Snapshots;

namespace Kv.Node.Tests.Ranges.Snapshots;

public sealed class SnapshotLimiterTests
{
    [Fact]
    public void Refuses_beyond_the_maximum_and_frees_a_slot_on_release()
    {
        var limiter = new SnapshotLimiter(2);
        Assert.True(limiter.TryAcquire());
        Assert.True(limiter.TryAcquire());
        Assert.False(limiter.TryAcquire());
        Assert.Equal(2, limiter.InUse); // the refusal took nothing
        limiter.Release();
        Assert.Equal(1, limiter.InUse);
        Assert.True(limiter.TryAcquire());
        Assert.False(limiter.TryAcquire());
    }

    [Fact]
    public void Release_without_acquire_is_a_caller_bug()
    {
        var limiter = new SnapshotLimiter(1);
        var e = Assert.Throws<InvalidOperationException>(limiter.Release);
        Assert.Contains("TryAcquire", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, limiter.InUse);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void A_maximum_below_one_is_refused(int maximum) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new SnapshotLimiter(maximum));

    [Fact]
    public void Concurrent_holders_never_exceed_the_maximum()
    {
        var limiter = new SnapshotLimiter(3);
        var holders = 0;
        var peak = 0;
        var acquired = 0;
        Parallel.For(0, 20_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            if (!limiter.TryAcquire())
            {
                return;
            }

            Interlocked.Increment(ref acquired);
            var now = Interlocked.Increment(ref holders);
            int seen;
            while ((seen = Volatile.Read(ref peak)) < now && Interlocked.CompareExchange(ref peak, now, seen) != seen)
            {
            }

            Interlocked.Decrement(ref holders);
            limiter.Release();
        });

        Assert.InRange(peak, 1, 3);
        Assert.True(acquired > 0);
        Assert.Equal(0, limiter.InUse);
    }
}
