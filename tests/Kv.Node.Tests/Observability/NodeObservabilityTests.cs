using System.Net;
using System.Text;
using Kv.Client.Cluster;
using Kv.Node.Server.Observability;
using Kv.Node.Tests.Cluster;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Observability;

/// <summary>
/// Real nodes (InProcessCluster) serve /metrics, /healthz and /readyz on their plain HTTP/1.1
/// listener; the metrics show the work done (writes, a transaction, a conflict), each node its own.
/// </summary>
[Collection(InProcessClusterCollection.Name)]
public sealed class NodeObservabilityTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static HttpClient Http11() => new() { DefaultRequestVersion = HttpVersion.Version11, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Nodes_are_healthy_ready_only_after_bootstrap_and_their_metrics_show_writes_and_a_transaction()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAsync();
        using var http = Http11();
        var nodes = c.Hosts.Select(h => h!.MetricsAddress!).ToArray();

        // 1. Started, not bootstrapped: alive, not ready, and the reason says why.
        foreach (var node in nodes)
        {
            var healthz = await http.GetAsync(new Uri(node, "/healthz"));
            Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
            Assert.Equal(HttpVersion.Version11, healthz.Version);
            Assert.Equal("ok\n", await healthz.Content.ReadAsStringAsync());
            var readyz = await http.GetAsync(new Uri(node, "/readyz"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, readyz.StatusCode);
            Assert.StartsWith("not joined", await readyz.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // 2. Bootstrap: every node becomes ready once it has heard the cluster id.
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.WaitForRangeLeaderAsync(1);
        foreach (var node in nodes)
        {
            await WaitForAsync(async () => (await http.GetAsync(new Uri(node, "/readyz"))).StatusCode == HttpStatusCode.OK, $"{node}readyz to answer 200");
        }

        // 3. Work: raw writes, a committed transaction, and a transaction that meets a write conflict.
        for (var i = 0; i < 3; i++)
        {
            await c.PutAsync($"raw{i}", "v");
        }

        await using (var client = KvClient.Connect(c.Addresses))
        {
            var loser = await client.BeginAsync();
            var winner = await client.BeginAsync();
            loser.Put(B("k"), B("1"));
            winner.Put(B("k"), B("2"));
            winner.Put(B("k2"), B("2"));
            await winner.CommitAsync();
            await winner.SecondariesCommitted;
            var e = await Assert.ThrowsAsync<KvException>(() => loser.CommitAsync());
            Assert.Equal(KvErrorKind.WriteConflict, e.Kind);
        }

        // 4. Scrape every node until the counts settle (leadership is read at scrape; heartbeats may still move it).
        List<Dictionary<string, double>> scraped = [];
        await WaitForAsync(async () =>
        {
            scraped = [];
            foreach (var node in nodes)
            {
                var response = await http.GetAsync(new Uri(node, "/metrics"));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
                scraped.Add(MetricsText.Parse(await response.Content.ReadAsStringAsync()));
            }

            return scraped.Sum(s => s.Value("kv_store_leaders")) == 1 && scraped.All(s => s.Value("kv_store_ranges") == 1);
        }, "one range leader among the three stores, each holding range 1");

        double Sum(string series) => scraped.Sum(s => s.Value(series));
        foreach (var s in scraped)
        {
            Assert.True(s.Value("kv_raft_committed_entries_total") > 0, "every replica applies the writes");
            Assert.True(s.Value("kv_raft_apply_seconds_count") > 0);
            Assert.True(s.Value("kv_storage_write_batch_seconds_count{sync=\"true\"}") > 0, "Raft rounds are written with sync");
            Assert.True(s.Value("kv_storage_wal_syncs_total") > 0, "RocksDB's own WAL fsync count");
            Assert.True(s.ContainsKey("kv_storage_engine_size_bytes{cf=\"default\"}"));
            Assert.True(s.Value("kv_storage_memtable_bytes{cf=\"default\"}") > 0);
            Assert.True(s.ContainsKey("kv_raft_apply_lag_entries"));
            Assert.True(s.ContainsKey("kv_snapshot_sent_bytes_total") && s.ContainsKey("kv_snapshot_received_bytes_total"));
        }

        Assert.True(Sum("kv_raft_proposals_total{kind=\"normal\"}") >= 3 + 2, "3 raw puts and the winner's prewrite and commit, proposed by leaders");
        Assert.True(Sum("kv_raft_leader_changes_total{change=\"became_leader\"}") >= 2, "placement's and range 1's first leaders");
        Assert.True(Sum("kv_txn_commands_total{command=\"prewrite\",result=\"ok\"}") >= 1);
        Assert.True(Sum("kv_txn_commands_total{command=\"commit\",result=\"ok\"}") >= 1);
        Assert.True(Sum("kv_txn_commands_total{command=\"prewrite\",result=\"key_error\"}") >= 1);
        Assert.True(Sum("kv_txn_conflicts_total{kind=\"write_conflict\"}") >= 1, "the loser's prewrite met the winner's commit");
        // The client batches timestamp requests, so two start timestamps and a commit timestamp take 1 to 3 batches.
        Assert.True(Sum("kv_tso_batches_total") >= 1, "timestamps were served");
        Assert.True(Sum("kv_tso_timestamps_total") >= 3, "start timestamps of two transactions and the winner's commit timestamp");
        Assert.Equal(Sum("kv_tso_batches_total"), Sum("kv_tso_batch_seconds_count"));
        // Each node's registry is its own: only leaders count transactions and timestamps.
        Assert.Equal(1, scraped.Count(s => s.Value("kv_txn_commands_total{command=\"prewrite\",result=\"ok\"}") > 0));
        Assert.Equal(1, scraped.Count(s => s.Value("kv_tso_batches_total") > 0));

        // 5. The RPC metrics come from the interceptor on the Grpc.AspNetCore host: the leader
        // served prewrites, and every node served Raft traffic.
        Assert.Contains(scraped, s => s.Value("kv_rpc_server_handled_total{service=\"kv.v1.TxnKv\",method=\"Prewrite\",type=\"unary\",code=\"OK\"}") > 0);
        Assert.All(scraped, s => Assert.True(s.Value("kv_rpc_server_started_total{service=\"kv.v1.RaftTransport\",method=\"Send\",type=\"client_stream\"}") > 0, "Raft message streams reached every node"));
    }

    [Fact]
    public void Health_and_readiness_follow_the_nodes_life()
    {
        var health = new NodeHealth();
        Assert.Null(health.Failure);
        Assert.StartsWith("starting: the store", health.NotReadyReason, StringComparison.Ordinal);
        health.StoreOpened();
        Assert.StartsWith("starting: the RPC server", health.NotReadyReason, StringComparison.Ordinal);
        health.Serving();
        Assert.StartsWith("not joined", health.NotReadyReason, StringComparison.Ordinal);
        health.Joined("c1");
        Assert.Null(health.NotReadyReason);
        health.Failed("the store's driver failed: disk full");
        health.Failed("a later reason");
        Assert.Equal("the store's driver failed: disk full", health.Failure);
        Assert.Equal("failed: the store's driver failed: disk full", health.NotReadyReason);
        var stopping = new NodeHealth();
        stopping.StoreOpened();
        stopping.Serving();
        stopping.Joined("c1");
        stopping.Stopping();
        Assert.Equal("stopping", stopping.NotReadyReason);
        Assert.Null(stopping.Failure);
    }

    [Fact]
    public void The_WAL_sync_count_and_time_are_read_from_RocksDBs_statistics_dump()
    {
        const string Dump = "rocksdb.db.write.micros P50 : 3.0 P95 : 9.0 P99 : 12.0 P100 : 40.0 COUNT : 7 SUM : 99\n" +
            "rocksdb.wal.file.sync.micros P50 : 1200.5 P95 : 3000.0 P99 : 3100.0 P100 : 3200.0 COUNT : 12 SUM : 24000\n" +
            "rocksdb.manifest.file.sync.micros P50 : 0.0 P95 : 0.0 P99 : 0.0 P100 : 0.0 COUNT : 1 SUM : 5\n";
        Assert.Equal((12.0, 24000.0), NodeMetrics.WalSyncs(Dump));
        Assert.Null(NodeMetrics.WalSyncs(null));
        Assert.Null(NodeMetrics.WalSyncs("rocksdb.block.cache.miss COUNT : 3\n"));
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"waited {Deadline.TotalSeconds} s for {what}");
            }

            await Task.Delay(50);
        }
    }
}
