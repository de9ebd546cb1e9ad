using System.Diagnostics;
using Prometheus;

namespace Kv.Node.Storage;

/// <summary>
/// The engine's write-path timings (docs/OBSERVABILITY.md), in the registry of the node that owns
/// the engine: each node has its own registry (Kv.Node.Server.Observability.NodeMetrics), so several
/// in-process nodes never share a series. The children are resolved once here; observing allocates nothing.
/// </summary>
public sealed class StorageMetrics
{
    private readonly Histogram.Child writeBuffered;
    private readonly Histogram.Child writeSynced;

    public StorageMetrics(IMetricFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var writeBatch = factory.CreateHistogram(
            "kv_storage_write_batch_seconds",
            "Time to commit one write batch to RocksDB (memtable insert and WAL append; with sync=\"true\" also the WAL fsync, which RocksDB does inside the same call).",
            ["sync"],
            new HistogramConfiguration { Buckets = LatencyBuckets });
        writeBuffered = writeBatch.WithLabels("false");
        writeSynced = writeBatch.WithLabels("true");
    }

    /// <summary>20 µs to about 5 s, doubling: a buffered batch write through a slow fsync on a busy disk.</summary>
    public static double[] LatencyBuckets { get; } = Histogram.ExponentialBuckets(0.00002, 2, 18);

    /// <summary>Records a batch written since <paramref name="startTimestamp"/> (a <see cref="Stopwatch.GetTimestamp"/> reading).</summary>
    public void ObserveWrite(bool sync, long startTimestamp) =>
        (sync ? writeSynced : writeBuffered).Observe(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
}
