using System.Diagnostics;
using Prometheus;

namespace Kv.Node.Server.Observability;

/// <summary>The placement leader's timestamp oracle (docs/OBSERVABILITY.md): recorded by PlacementService.GetTimestamp.</summary>
public sealed class TsoMetrics
{
    private readonly Counter batches;
    private readonly Counter timestamps;
    private readonly Counter extensions;
    private readonly Histogram seconds;

    public TsoMetrics(IMetricFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        batches = factory.CreateCounter("kv_tso_batches_total", "GetTimestamp requests this node served as placement leader (each is one batch of count timestamps; clients batch their callers' requests).");
        timestamps = factory.CreateCounter("kv_tso_timestamps_total", "Timestamps handed out by this node as placement leader (the sum of the batches' counts).");
        extensions = factory.CreateCounter("kv_tso_window_extensions_total", "TSO window extensions a GetTimestamp request had to wait for (a Raft round in the request path; background extensions are not counted).");
        seconds = factory.CreateHistogram(
            "kv_tso_batch_seconds",
            "Time to serve one GetTimestamp batch on the placement leader, from the request to its answer (queueing behind other batches and any window extension included).",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.00001, 2, 18) });
    }

    /// <summary>A batch of <paramref name="count"/> timestamps served; the request arrived at <paramref name="startTimestamp"/> (a <see cref="Stopwatch.GetTimestamp"/> reading).</summary>
    public void Served(uint count, long startTimestamp)
    {
        batches.Inc();
        timestamps.Inc(count);
        seconds.Observe(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
    }

    /// <summary>A request waited for the window to be extended through Raft.</summary>
    public void Extended() => extensions.Inc();
}
