using System.Globalization;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Snapshots;
using Kv.Node.Server.Hosting;
using Kv.Node.Server.Services;
using Kv.Node.Storage;
using Prometheus;

namespace Kv.Node.Server.Observability;

/// <summary>
/// One node's metrics (docs/OBSERVABILITY.md lists them all).
///
/// Why a registry per node and not prometheus-net's static default registry: tests run several
/// nodes in one process (InProcessCluster), and each node's /metrics must show that node's work
/// only. Static metrics with a store_id label would need every endpoint to filter, and the store
/// id is not known until the node has one. So each NodeHost makes a NodeMetrics (its own
/// <see cref="CollectorRegistry"/>) and hands its parts to the components that record into them:
/// <see cref="Storage"/> to the Engine, <see cref="Raft"/> to the Store, <see cref="Txn"/> to
/// TxnKvService, <see cref="Tso"/> to PlacementService, <see cref="Rpc"/> to the RPC interceptor.
/// Nothing here is process-global, and a component given none records nothing (unit tests).
///
/// Counts the components already keep (groups and leaders, apply progress, snapshot bytes, engine
/// sizes, RocksDB's own WAL sync timings) are read when a scrape asks, not on the hot path.
/// </summary>
public sealed class NodeMetrics
{
    /// <summary>How long a scrape waits for the store's driver thread to report its groups.</summary>
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(2);

    private readonly Gauge ranges;
    private readonly Gauge leaders;
    private readonly Gauge applyLag;
    private readonly Gauge engineSize;
    private readonly Gauge memtableSize;
    private readonly Counter walSyncs;
    private readonly Counter walSyncSeconds;
    private readonly Counter snapshotBytesSent;
    private readonly Counter snapshotBytesReceived;
    private readonly Counter snapshotsSent;
    private readonly Counter snapshotsFailed;
    private volatile Sources? sources;

    public NodeMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        // No exemplars: they would take the current Activity's trace id on every observation.
        factory.ExemplarBehavior = ExemplarBehavior.NoExemplars();
        Storage = new StorageMetrics(factory);
        Raft = new RaftMetrics(factory);
        Txn = new TxnMetrics(factory);
        Tso = new TsoMetrics(factory);
        Rpc = new RpcMetrics(factory);
        ranges = factory.CreateGauge("kv_store_ranges", "Range replicas on this store (placement's own group not counted).");
        leaders = factory.CreateGauge("kv_store_leaders", "Range replicas on this store that are their range's Raft leader.");
        applyLag = factory.CreateGauge("kv_raft_apply_lag_entries", "Committed but not yet applied log entries, summed over this store's groups (placement's included), read at scrape.");
        engineSize = factory.CreateGauge("kv_storage_engine_size_bytes", "Size of the column family's SST files on disk (RocksDB rocksdb.total-sst-files-size).", ["cf"]);
        memtableSize = factory.CreateGauge("kv_storage_memtable_bytes", "Size of the column family's memtables (RocksDB rocksdb.cur-size-all-mem-tables).", ["cf"]);
        walSyncs = factory.CreateCounter("kv_storage_wal_syncs_total", "WAL fsyncs RocksDB made (its statistics' rocksdb.wal.file.sync.micros count).");
        walSyncSeconds = factory.CreateCounter("kv_storage_wal_sync_seconds_total", "Time RocksDB spent in WAL fsyncs (its statistics' rocksdb.wal.file.sync.micros sum); divide by kv_storage_wal_syncs_total for the mean.");
        snapshotBytesSent = factory.CreateCounter("kv_snapshot_sent_bytes_total", "Raft snapshot chunk bytes this store streamed to other stores (a resent chunk counts again).");
        snapshotBytesReceived = factory.CreateCounter("kv_snapshot_received_bytes_total", "Raft snapshot chunk bytes this store accepted from other stores.");
        snapshotsSent = factory.CreateCounter("kv_snapshots_sent_total", "Raft snapshots this store delivered to another store.");
        snapshotsFailed = factory.CreateCounter("kv_snapshot_send_failures_total", "Raft snapshots this store gave up sending (after its retries).");
        Registry.AddBeforeCollectCallback(CollectAsync);
    }

    /// <summary>This node's registry: what /metrics serves.</summary>
    public CollectorRegistry Registry { get; }

    public StorageMetrics Storage { get; }

    public RaftMetrics Raft { get; }

    public TxnMetrics Txn { get; }

    public TsoMetrics Tso { get; }

    public RpcMetrics Rpc { get; }

    /// <summary>Tells the scrape where the node's counts are, once the store is running.</summary>
    internal void Attach(Store store, SnapshotSender sender, SnapshotService receiver) => sources = new Sources(store, sender, receiver);

    /// <summary>Forgets the store before it is disposed (a scrape then reports the last values).</summary>
    internal void Detach() => sources = null;

    private async Task CollectAsync(CancellationToken ct)
    {
        if (sources is not { } s)
        {
            return;
        }

        snapshotBytesSent.IncTo(s.Sender.BytesSent);
        snapshotsSent.IncTo(s.Sender.Sent);
        snapshotsFailed.IncTo(s.Sender.Failed);
        snapshotBytesReceived.IncTo(s.Receiver.BytesReceived);
        try
        {
            CollectEngine(s.Store.Engine);
            var groups = await s.Store.StatusAsync().WaitAsync(StatusTimeout, ct).ConfigureAwait(false);
            int rangeCount = 0, leaderCount = 0;
            ulong lag = 0;
            foreach (var g in groups)
            {
                lag += g.Committed > g.Applied ? g.Committed - g.Applied : 0;
                if (g.GroupId != PlacementGroupHost.GroupId)
                {
                    rangeCount++;
                    leaderCount += g.IsLeader ? 1 : 0;
                }
            }

            ranges.Set(rangeCount);
            leaders.Set(leaderCount);
            applyLag.Set(lag);
        }
        catch (Exception e) when (e is ObjectDisposedException or TimeoutException)
        {
            // The node is stopping (engine closed, driver gone): the scrape shows the last values.
        }
    }

    private void CollectEngine(Engine engine)
    {
        foreach (var cf in Enum.GetValues<ColumnFamily>())
        {
            var name = ColumnFamilyNames.Of(cf);
            engineSize.WithLabels(name).Set(engine.GetLongProperty(cf, "rocksdb.total-sst-files-size") ?? 0);
            memtableSize.WithLabels(name).Set(engine.GetLongProperty(cf, "rocksdb.cur-size-all-mem-tables") ?? 0);
        }

        if (WalSyncs(engine.GetStatistics()) is var (count, micros))
        {
            walSyncs.IncTo(count);
            walSyncSeconds.IncTo(micros / 1e6);
        }
    }

    /// <summary>(count, sum in µs) of RocksDB's WAL fsync histogram in a statistics dump, whose line reads
    /// <c>rocksdb.wal.file.sync.micros P50 : 1.0 P95 : ... COUNT : 12 SUM : 3456</c>; null when absent.</summary>
    internal static (double Count, double SumMicros)? WalSyncs(string? statistics)
    {
        const string Name = "rocksdb.wal.file.sync.micros ";
        var at = statistics?.IndexOf(Name, StringComparison.Ordinal) ?? -1;
        if (at < 0)
        {
            return null;
        }

        var end = statistics!.IndexOf('\n', at);
        var line = statistics.AsSpan(at, (end < 0 ? statistics.Length : end) - at);
        return Field(line, "COUNT : ") is { } count && Field(line, "SUM : ") is { } sum ? (count, sum) : null;
    }

    private static double? Field(ReadOnlySpan<char> line, string label)
    {
        var at = line.IndexOf(label, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var rest = line[(at + label.Length)..];
        var space = rest.IndexOf(' ');
        return double.TryParse(space < 0 ? rest : rest[..space], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
    }

    private sealed record Sources(Store Store, SnapshotSender Sender, SnapshotService Receiver);
}
