using System.Globalization;
using System.Text;
using System.Text.Json;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Views;
using Xunit.Abstractions;

namespace Kv.System.Tests.Cluster;

/// <summary>
/// A 4-node cluster of real kv-node processes for the operation fault tests: nodes 1 to 3 are the
/// placement members (so killing one keeps a placement quorum, and their store ids are 1 to 3),
/// node 4 is a plain store that joins after bootstrap (its store id comes from placement).
/// The scheduler is paused before node 4 joins, so every range starts on stores 1 to 3 and only
/// what a test does moves replicas; a test resumes it when it wants the scheduler running.
/// Actions go through the real kvctl (with every node as an endpoint, so it survives a dead
/// node); the fast polls a test needs to act while an operation runs go through KvAdminClient
/// and the wire probe in this process, since a kvctl process takes seconds to start here.
/// </summary>
public sealed class OperationsCluster : IAsyncDisposable
{
    public static readonly TimeSpan Ready = TimeSpan.FromSeconds(90);
    private readonly ITestOutputHelper _output;
    private readonly string _members;

    private OperationsCluster(ITestOutputHelper output, TestCluster cluster)
    {
        _output = output;
        Nodes = cluster;
        _members = string.Join(',', Enumerable.Range(1, 3).Select(cluster.AddressOf));
        Probe = cluster.Probe();
        Admin = KvAdminClient.Connect(cluster.Endpoints, new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(5) }, "system-test");
    }

    public TestCluster Nodes { get; }

    public ClusterProbe Probe { get; }

    /// <summary>For polling operation records quickly (kvctl does the actions).</summary>
    public KvAdminClient Admin { get; }

    /// <summary>Store id of each node (index 1..4).</summary>
    public IReadOnlyDictionary<int, ulong> StoreOf { get; private set; } = new Dictionary<int, ulong>();

    public ulong Store4 => StoreOf[4];

    /// <summary>Starts nodes 1-3, bootstraps, pauses the scheduler, starts node 4 and waits until all four stores are Up.</summary>
    public static async Task<OperationsCluster> StartAsync(ITestOutputHelper output)
    {
        var nodes = new TestCluster(output, nodes: 4);
        var cluster = new OperationsCluster(output, nodes);
        try
        {
            for (var n = 1; n <= 3; n++)
            {
                cluster.StartNode(n);
            }

            await nodes.WaitReadyAsync(Ready, expectedStoresUp: 3);
            cluster.MustKvctl("scheduler", "pause", "--reason", "system test: placement is set up by the test");
            cluster.StartNode(4);
            await nodes.WaitReadyAsync(Ready, expectedStoresUp: 4);
            var stores = Items(cluster.MustKvctl("store", "list", "-o", "json"));
            cluster.StoreOf = Enumerable.Range(1, 4).ToDictionary(
                n => n,
                n => stores.Single(s => s.GetProperty("address").GetString() == nodes.AddressOf(n)).GetProperty("id").GetUInt64());
            output.WriteLine("stores by node: " + string.Join(", ", cluster.StoreOf.Select(p => $"node {p.Key} = store {p.Value}")));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts (or restarts, same data directory) node n with the placement members' --join.</summary>
    public void StartNode(int node) => Nodes.Start(node, join: _members);

    /// <summary>Runs kvctl with every node as an endpoint.</summary>
    public (int Code, string Stdout, string Stderr) Kvctl(params string[] args) =>
        KvctlProcess.Run(_output, Path.Combine(Nodes.Dir, "kvctl-context.json"), [.. args, "--endpoint", Nodes.JoinList]);

    /// <summary>Runs kvctl and fails the test unless it exits 0; returns its stdout.</summary>
    public string MustKvctl(params string[] args)
    {
        var r = Kvctl(args);
        Assert.True(r.Code == 0, $"kvctl {string.Join(' ', args)} exited {r.Code}: {r.Stderr}");
        return r.Stdout;
    }

    /// <summary>The node leading placement, as `kvctl cluster status` says (its address mapped to the node started there).</summary>
    public int PlacementLeaderByKvctl()
    {
        using var doc = JsonDocument.Parse(MustKvctl("cluster", "status", "-o", "json"));
        var address = doc.RootElement.GetProperty("placement").GetProperty("leader").GetProperty("address").GetString();
        var node = Enumerable.Range(1, Nodes.Count).FirstOrDefault(n => Nodes.AddressOf(n) == address);
        Assert.True(node > 0, $"cluster status names placement leader {address}, which is none of the nodes started ({Nodes.JoinList})");
        return node;
    }

    /// <summary>Waits until a placement leader other than <paramref name="not"/> is known and returns its node.</summary>
    public async Task<int> WaitNewPlacementLeaderAsync(int not, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var leader = 0;
        await Eventually.TrueAsync(async () =>
        {
            leader = await Nodes.PlacementLeaderNodeAsync(Probe, deadline - DateTime.UtcNow);
            return (leader != not, $"placement is still led by node {not}");
        }, deadline);
        return leader;
    }

    /// <summary>Polls the operation until <paramref name="done"/> holds; tolerates unavailability (a failover) until the deadline.</summary>
    public async Task<OperationView> WaitOperationAsync(string id, Func<OperationView, bool> done, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        OperationView? last = null;
        var why = "not read yet";
        while (true)
        {
            try
            {
                last = await Admin.GetAsync(OperationId.Parse(id));
                if (done(last))
                {
                    return last;
                }

                why = $"{last.State}, step {last.CurrentStep} of {last.StepCount}" +
                      (last.Stuck.Count > 0 ? "; stuck: " + string.Join("; ", last.Stuck.Select(s => $"range {s.RangeId}: {s.Reason}")) : string.Empty);
            }
            catch (KvException e)
            {
                why = $"{e.Kind}: {e.Message}";
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"operation {id} is not {what} by the deadline: {why}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The ranges `kvctl range list -o json` shows.</summary>
    public List<JsonElement> Ranges() => Items(MustKvctl("range", "list", "-o", "json"));

    public static IEnumerable<ulong> ReplicaStores(JsonElement range) =>
        range.GetProperty("replicas").EnumerateArray().Select(r => r.GetProperty("storeId").GetUInt64());

    public static ulong? LeaderStore(JsonElement range) =>
        range.TryGetProperty("leader", out var l) && l.ValueKind == JsonValueKind.Object ? l.GetProperty("storeId").GetUInt64() : null;

    /// <summary>
    /// Waits until `kvctl range list` shows no replica and no leader on the store, `kvctl store
    /// list` shows zero ranges and leaders on it (its own heartbeat counts, which follow the
    /// directory by a heartbeat or two), and the admin API shows it Drained (`kvctl store list`
    /// does not show the admin state; the admin client's store view, which kvctl's store verbs
    /// print, does).
    /// </summary>
    public async Task WaitStoreEmptyAndDrainedAsync(ulong store, TimeSpan timeout)
    {
        await Eventually.TrueAsync(async () =>
        {
            var ranges = Ranges();
            var holding = ranges.Where(r => ReplicaStores(r).Contains(store)).Select(r => r.GetProperty("id").GetUInt64()).ToList();
            var leading = ranges.Where(r => LeaderStore(r) == store).Select(r => r.GetProperty("id").GetUInt64()).ToList();
            var listed = Items(MustKvctl("store", "list", "-o", "json")).Single(s => s.GetProperty("id").GetUInt64() == store);
            var rangeCount = listed.GetProperty("ranges").GetUInt32();
            var leaderCount = listed.GetProperty("leaders").GetUInt32();
            var state = (await Admin.ListStoreStatusAsync()).Single(s => s.Id.Value == store).AdminState;
            return (holding.Count == 0 && leading.Count == 0 && state == StoreAdminStateView.Drained && rangeCount == 0 && leaderCount == 0,
                $"store {store}: admin state {state}, {rangeCount} ranges and {leaderCount} leaders by its heartbeat; range list shows replicas of [{string.Join(',', holding)}] and leaders of [{string.Join(',', leading)}] on it");
        }, DateTime.UtcNow + timeout);
    }

    /// <summary>Writes count keys <c>{prefix}/NNNN</c> with valueBytes-long values through KvClient (8 at a time) and returns them.</summary>
    public async Task<IReadOnlyDictionary<string, byte[]>> WriteDataAsync(string prefix, int count, int valueBytes)
    {
        var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var key = string.Create(CultureInfo.InvariantCulture, $"{prefix}/{i:D4}");
            var head = Encoding.UTF8.GetBytes(key + "=");
            var value = new byte[valueBytes];
            for (var b = 0; b < valueBytes; b++)
            {
                value[b] = b < head.Length ? head[b] : (byte)('a' + ((i + b) % 26));
            }

            data[key] = value;
        }

        await using var client = Nodes.Client(TimeSpan.FromSeconds(30));
        await Parallel.ForEachAsync(data, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (kv, ct) =>
            await client.PutAsync(Encoding.UTF8.GetBytes(kv.Key), kv.Value, ct));
        _output.WriteLine($"wrote {count} keys {prefix}/0000..{prefix}/{count - 1:D4} of {valueBytes} bytes");
        return data;
    }

    /// <summary>Reads every key back (linearizable gets) and fails naming those missing or different.</summary>
    public async Task AssertAllReadableAsync(IReadOnlyDictionary<string, byte[]> data)
    {
        await using var client = Nodes.Client(TimeSpan.FromSeconds(30));
        var wrong = new List<string>();
        foreach (var (key, value) in data)
        {
            var read = await client.GetAsync(Encoding.UTF8.GetBytes(key));
            if (read is null || !read.AsSpan().SequenceEqual(value))
            {
                wrong.Add(read is null ? key + " (missing)" : key + " (different value)");
            }
        }

        Assert.True(wrong.Count == 0, $"{wrong.Count} of {data.Count} keys written before are missing or wrong, e.g. {string.Join(", ", wrong.Take(5))}");
        _output.WriteLine($"all {data.Count} keys written before read back with their values");
    }

    /// <summary>What a reader of a failed test needs: the operation, the ranges and the stores (node logs follow at dispose).</summary>
    public void Diagnose(string? operationId)
    {
        _output.WriteLine("---- diagnostics");
        if (operationId is not null)
        {
            Kvctl("operation", "show", operationId);
            Kvctl("audit", "list", "--since", "1h", "--operation", operationId);
        }

        Kvctl("range", "list");
        Kvctl("store", "list");
        Kvctl("cluster", "status");
        if (operationId is not null)
        {
            // The executor's lines for this operation (step outcomes, stuck reasons) on every node that led placement.
            for (var n = 1; n <= Nodes.Count; n++)
            {
                var log = Nodes.LogPath(n);
                var lines = File.Exists(log) ? ReadShared(log).Where(l => l.Contains(operationId, StringComparison.Ordinal)).TakeLast(40).ToList() : [];
                _output.WriteLine($"---- node {n}: last {lines.Count} log lines naming {operationId}");
                lines.ForEach(_output.WriteLine);
            }
        }
    }

    private static List<string> ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    public static List<JsonElement> Items(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.GetProperty("items").EnumerateArray().Select(e => e.Clone())];
    }

    public async ValueTask DisposeAsync()
    {
        await Admin.DisposeAsync();
        Probe.Dispose();
        await Nodes.DisposeAsync();
    }
}
