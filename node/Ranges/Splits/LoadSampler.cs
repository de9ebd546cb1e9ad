using System.Collections.Concurrent;
using Google.Protobuf;

namespace Kv.Node.Ranges.Splits;

/// <summary>
/// Requests per range over a window, with a uniform sample of the keys they touched (reservoir
/// sampling, Algorithm R): what the automatic splitter needs to split a hot range at a key that
/// divides its load. <see cref="Record"/> is on the request path: an increment, a random number
/// and at most one reference store, no allocation (the request's key is kept, not copied).
/// Slots may be overwritten concurrently; a sample is a hint, not an invariant.
/// </summary>
internal sealed class LoadSampler
{
    /// <summary>Keys kept per range and window.</summary>
    public const int SampleSize = 32;

    private readonly ConcurrentDictionary<ulong, Window> windows = new();
    private readonly TimeProvider time;

    public LoadSampler(TimeProvider? time = null) => this.time = time ?? TimeProvider.System;

    /// <summary>Counts one request to the range; the caller records only ranges this store holds (a window is kept per range id).</summary>
    public void Record(ulong rangeId, ByteString key)
    {
        if (!windows.TryGetValue(rangeId, out var w))
        {
            w = windows.GetOrAdd(rangeId, static (_, now) => new Window(now), time.GetTimestamp());
        }

        var n = Interlocked.Increment(ref w.Count);
        if (n <= SampleSize)
        {
            w.Keys[n - 1] = key;
            return;
        }

#pragma warning disable CA5394 // sampling, not security
        var j = Random.Shared.NextInt64(n);
#pragma warning restore CA5394
        if (j < SampleSize)
        {
            w.Keys[j] = key;
        }
    }

    /// <summary>Ends the range's current window and starts a new one: requests per second over it and the sampled keys (sorted).</summary>
    public (double Qps, IReadOnlyList<ByteString> Keys) TakeWindow(ulong rangeId)
    {
        var now = time.GetTimestamp();
        if (!windows.TryGetValue(rangeId, out var w) || !windows.TryUpdate(rangeId, new Window(now), w))
        {
            return (0, []);
        }

        var seconds = time.GetElapsedTime(w.Started, now).TotalSeconds;
        var count = Interlocked.Read(ref w.Count);
        var keys = w.Keys.Take((int)Math.Min(count, SampleSize)).Where(k => k is not null).Select(k => k!).ToList();
        keys.Sort(static (a, b) => a.Span.SequenceCompareTo(b.Span));
        return (seconds > 0 ? count / seconds : 0, keys);
    }

    /// <summary>Forgets a range (it left this store).</summary>
    public void Forget(ulong rangeId) => windows.TryRemove(rangeId, out _);

    private sealed class Window(long started)
    {
        public readonly long Started = started;
        public readonly ByteString?[] Keys = new ByteString?[SampleSize];
        public long Count;
    }
}
