using Google.Protobuf;
using Kv.Node.Ranges.Splits;

namespace Kv.Node.Tests.Ranges;

public sealed class LoadSamplerTests
{
    [Fact]
    public void A_window_reports_requests_per_second_and_a_sorted_sample_of_the_keys_then_starts_over()
    {
        var time = new SteppedClock();
        var sampler = new LoadSampler(time);
        var keys = Enumerable.Range(0, 1000).Select(i => ByteString.CopyFromUtf8($"k{i:D4}")).ToArray();
        foreach (var k in keys)
        {
            sampler.Record(7, k);
        }

        sampler.Record(8, keys[0]);
        time.Ticks += 2 * SteppedClock.Frequency;
        var (qps, sample) = sampler.TakeWindow(7);
        Assert.Equal(500, qps, 3);
        Assert.Equal(LoadSampler.SampleSize, sample.Count);
        Assert.All(sample, k => Assert.Contains(k, keys));
        Assert.Equal(sample.OrderBy(k => k.ToStringUtf8(), StringComparer.Ordinal), sample);
        // Uniform, not the first keys seen: the sample reaches past the first 32 keys.
        Assert.Contains(sample, k => string.CompareOrdinal(k.ToStringUtf8(), "k0031") > 0);

        time.Ticks += SteppedClock.Frequency;
        Assert.Equal(0, sampler.TakeWindow(7).Qps);
        Assert.Equal((0.0, 0), (sampler.TakeWindow(99).Qps, sampler.TakeWindow(99).Keys.Count));
    }
}

/// <summary>A monotonic clock the test moves by hand.</summary>
internal sealed class SteppedClock : TimeProvider
{
    public const long Frequency = 1_000_000;

    public long Ticks { get; set; } = 1;

    public override long TimestampFrequency => Frequency;

    public override long GetTimestamp() => Ticks;
}
