using Google.Protobuf;
using Kv.Node.Ranges.Changes;
using Kv.Node.Storage;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Ranges.Splits;

/// <summary>
/// Automatic splits, on the leaders of this store's ranges, off the driver thread. Every check
/// (one per interval, which is also the load window), for each range this store leads:
///  1. by size: when the range's data holds about <see cref="SizeThresholdBytes"/>, split at the
///     key that halves it (found by iterating the data, at most <see cref="MaxKeysScanned"/> keys);
///  2. else by load: when it served at least <see cref="QpsThreshold"/> key requests per second
///     over the window, split at the median of the keys sampled from those requests.
/// A split is a plan step executed by the replica-change engine, like the Admin RPC's (fenced on the epoch just read), so a
/// check racing a manual split or a leadership change is refused and simply tried next time.
/// </summary>
internal sealed partial class RangeSplitChecker(
    Store store, LocalRanges ranges, ReplicaChangeEngine changes, LoadSampler load, ILogger logger)
{
    /// <summary>Keys iterated at most when looking for a range's middle key.</summary>
    public const int MaxKeysScanned = 100_000;

    /// <summary>0: no size splits.</summary>
    public ulong SizeThresholdBytes { get; init; }

    /// <summary>0: no load splits.</summary>
    public double QpsThreshold { get; init; }

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one automatic split may take (id allocation and the proposal) before the check moves on.</summary>
    public TimeSpan SplitTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Interval, ct).ConfigureAwait(false);
                await CheckOnceAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // a failed check is retried next interval; the reason is logged
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogCheckFailed(e);
            }
        }
    }

    /// <summary>One pass over the ranges this store leads; returns how many were split.</summary>
    public async Task<int> CheckOnceAsync(CancellationToken ct)
    {
        var split = 0;
        foreach (var g in await store.StatusAsync().WaitAsync(ct).ConfigureAwait(false))
        {
            if (ranges.Get(g.GroupId) is not { } replica)
            {
                continue;
            }

            var (qps, sampled) = load.TakeWindow(g.GroupId);
            if (!g.IsLeader)
            {
                continue;
            }

            var d = replica.Descriptor;
            string reason;
            ByteString? key = null;
            if (SizeThresholdBytes > 0 && await Task.Run(() => MiddleKeyIfLarge(d), ct).ConfigureAwait(false) is { } middle)
            {
                key = middle;
                reason = "size";
            }
            else if (QpsThreshold > 0 && qps >= QpsThreshold && MedianInside(d, sampled) is { } hot)
            {
                key = hot;
                reason = "load";
            }
            else
            {
                continue;
            }

            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            attempt.CancelAfter(SplitTimeout);
            try
            {
                var step = new PlanStep { Kind = StepKind.Split, RangeId = d.RangeId, Epoch = d.Epoch, SplitKey = key };
                switch (await changes.ExecuteAsync(step, TimeSpan.Zero, attempt.Token).ConfigureAwait(false))
                {
                    case StepOutcome.Done { Right: { } right }:
                        split++;
                        LogSplit(d.RangeId, reason, right.RangeId, qps);
                        // Only this path says why a range split (an operator's split does not): the scheduler scatters these halves.
                        var origin = new SplitOrigin
                        {
                            LeftRangeId = d.RangeId,
                            Reason = reason == "size" ? SplitReason.Size : SplitReason.Load,
                            AtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                        };
                        await changes.ReportSplitAsync(right, store.StoreId, origin, ct).ConfigureAwait(false);
                        break;
                    case var other:
                        var why = Describe(other);
                        LogSplitRefused(d.RangeId, why);
                        break;
                }
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                LogSplitTimedOut(d.RangeId, SplitTimeout.TotalSeconds);
            }
        }

        return split;
    }

    /// <summary>Why a split step did not split, in words.</summary>
    private static string Describe(StepOutcome outcome) => outcome switch
    {
        StepOutcome.Refused r => r.Reason,
        StepOutcome.Transient t => t.Reason,
        StepOutcome.NotLeader => "this store no longer leads the range",
        StepOutcome.EpochChanged => "the range changed since the check read it",
        StepOutcome.RangeNotFound => "the range left this store",
        _ => outcome.GetType().Name,
    };

    /// <summary>
    /// The key that halves the range's data when it holds at least the threshold; else null.
    /// Sizes: the engine's approximate size of the span (SST files), or, while much of the store's
    /// data is still in memtables (which that estimate misses), the bytes counted by iterating.
    /// </summary>
    private ByteString? MiddleKeyIfLarge(RangeDescriptor d)
    {
        var engine = store.Engine;
        var lo = Keys.Data(d.StartKey.Span);
        var hi = d.EndKey.IsEmpty ? Keys.DataEnd : Keys.Data(d.EndKey.Span);
        var size = engine.ApproximateSize(ColumnFamily.Default, lo, hi);
        var unflushed = (ulong)Math.Max(0, engine.GetLongProperty(ColumnFamily.Default, "rocksdb.cur-size-all-mem-tables") ?? 0);
        if (size + unflushed < SizeThresholdBytes)
        {
            return null;
        }

        // One pass: count the bytes, keeping (cumulative bytes, key) at sampled keys (every key of
        // a small range, every 64th beyond), then take the first sample past half of the total.
        var samples = new List<(ulong Cumulative, byte[] Key)>();
        ulong total = 0;
        var n = 0;
        using (var it = engine.NewIterator(ColumnFamily.Default, lo, hi, fillCache: false))
        {
            for (var ok = it.SeekToFirst(); ok && n < MaxKeysScanned; ok = it.Next(), n++)
            {
                total += (ulong)(it.Key.Length + it.Value.Length);
                if (n < 1024 || (n & 63) == 0)
                {
                    samples.Add((total, it.Key[1..].ToArray()));
                }
            }
        }

        var estimate = Math.Max(size, total);
        if (estimate < SizeThresholdBytes || samples.Count < 2)
        {
            return null;
        }

        var half = total / 2;
        foreach (var (cumulative, key) in samples)
        {
            if (cumulative >= half && key.AsSpan().SequenceCompareTo(d.StartKey.Span) > 0)
            {
                return ByteString.CopyFrom(key);
            }
        }

        return null;
    }

    /// <summary>The median sampled key strictly inside the range (samples from before a split may lie outside it), or null.</summary>
    private static ByteString? MedianInside(RangeDescriptor d, IReadOnlyList<ByteString> sampled)
    {
        var inside = sampled.Where(k => k.Span.SequenceCompareTo(d.StartKey.Span) > 0 && (d.EndKey.IsEmpty || k.Span.SequenceCompareTo(d.EndKey.Span) < 0)).ToList();
        return inside.Count == 0 ? null : inside[inside.Count / 2];
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "range {RangeId} split automatically by {Reason}: new range {NewRangeId} (requests/s over the window: {Qps:0})")]
    private partial void LogSplit(ulong rangeId, string reason, ulong newRangeId, double qps);

    [LoggerMessage(Level = LogLevel.Information, Message = "range {RangeId}: automatic split refused: {Reason}")]
    private partial void LogSplitRefused(ulong rangeId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "range {RangeId}: automatic split had no outcome within {Seconds} s (placement or the range unavailable?); the next check tries again")]
    private partial void LogSplitTimedOut(ulong rangeId, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "automatic split check failed; retrying next interval")]
    private partial void LogCheckFailed(Exception e);
}
