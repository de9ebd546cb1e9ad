using System.Globalization;
using System.Text.Json;
using Kv.System.Tests.Cluster;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// <c>kvctl local up --nodes N</c> for every N from 1 to 7, as a new user runs it on a fresh
/// directory: real kv-node processes, nodes beyond the placement members waiting for the
/// bootstrap instead of exiting. For each N: placement has 1, 3 or 5 members (DESIGN.md section
/// 7), every store is Up with its default label, range 1 has min(3, members) replicas and a
/// leader, a write and a read go through, `local status` says running, and `local down` stops
/// every node.
/// </summary>
public sealed class KvctlLocalClusterSizesTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kv-system-tests", Guid.NewGuid().ToString("N"));

    private string Dir => Path.Combine(_root, "local");

    private string ContextPath => Path.Combine(_root, "kvctl-context.json");

    public void Dispose()
    {
        var (code, stdout, stderr) = Kvctl("local", "down", "--dir", Dir, "--timeout", "10");
        output.WriteLine($"cleanup: local down exit {code}\n{stdout}{stderr}");
        foreach (var log in Directory.Exists(Dir) ? Directory.GetFiles(Dir, "kv-node.log", SearchOption.AllDirectories) : [])
        {
            output.WriteLine($"---- {log} (last 10 lines)");
            foreach (var line in File.ReadLines(log).TakeLast(10))
            {
                output.WriteLine(line);
            }
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // leave it for the temp cleaner
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 3)]
    [InlineData(4, 3)]
    [InlineData(5, 5)]
    [InlineData(6, 5)]
    [InlineData(7, 5)]
    public async Task Local_up_with_n_nodes_serves_with_the_right_placement_and_replication_and_goes_down(int nodes, int members)
    {
        // 1. up on a fresh directory.
        var up = Kvctl("local", "up", "--nodes", nodes.ToString(CultureInfo.InvariantCulture), "--dir", Dir, "--timeout", "120", "-o", "json");
        Assert.True(up.Code == 0, $"local up --nodes {nodes} exited {up.Code}: {up.Stderr}");
        using (var doc = JsonDocument.Parse(up.Stdout))
        {
            var listed = doc.RootElement.GetProperty("nodes").EnumerateArray().ToList();
            Assert.Equal(nodes, listed.Count);
            Assert.All(listed, n => Assert.True(n.GetProperty("alive").GetBoolean()));
            Assert.Equal(Enumerable.Range(1, members), listed.Where(n => n.GetProperty("placementMember").GetBoolean()).Select(n => n.GetProperty("id").GetInt32()));
        }

        // 2. Placement has 1, 3 or 5 members.
        var status = Kvctl("cluster", "status", "-o", "json");
        Assert.Equal(0, status.Code);
        using (var doc = JsonDocument.Parse(status.Stdout))
        {
            Assert.True(doc.RootElement.GetProperty("bootstrapped").GetBoolean());
            Assert.Equal(members, doc.RootElement.GetProperty("placement").GetProperty("members").GetArrayLength());
        }

        // 3. Every store is Up, with its default label host=nodeN.
        var stores = Kvctl("store", "list", "-o", "json");
        Assert.Equal(0, stores.Code);
        using (var doc = JsonDocument.Parse(stores.Stdout))
        {
            var items = doc.RootElement.GetProperty("items").EnumerateArray().ToList();
            Assert.Equal(nodes, items.Count);
            Assert.All(items, s => Assert.Equal("up", s.GetProperty("state").GetString()));
            Assert.Equal(
                Enumerable.Range(1, nodes).Select(i => $"host=node{i}").Order(StringComparer.Ordinal),
                items.Select(s => $"host={s.GetProperty("labels").GetProperty("host").GetString()}").Order(StringComparer.Ordinal));
        }

        // 4. Range 1 has between min(3, members) and min(3, nodes) replicas and a leader; data goes through.
        var endpoints = Endpoints(up.Stdout);
        using (var probe = new ClusterProbe(endpoints))
        {
            await probe.PutAsync(WriteLoad.Key("n"), WriteLoad.Key(nodes.ToString(CultureInfo.InvariantCulture)), DateTime.UtcNow + TimeSpan.FromSeconds(30));
            Assert.Equal(WriteLoad.Key(nodes.ToString(CultureInfo.InvariantCulture)), await probe.GetAsync(WriteLoad.Key("n"), DateTime.UtcNow + TimeSpan.FromSeconds(30)));
        }

        var ranges = Kvctl("range", "list", "-o", "json");
        Assert.Equal(0, ranges.Code);
        using (var doc = JsonDocument.Parse(ranges.Stdout))
        {
            var first = doc.RootElement.GetProperty("items")[0];
            // Bootstrap puts min(3, members) replicas; the scheduler (every 5 s) may already have
            // added replicas on the other stores towards the replication factor of 3, never more.
            Assert.InRange(first.GetProperty("replicas").GetArrayLength(), Math.Min(3, members), Math.Min(3, nodes));
            Assert.True(first.TryGetProperty("leader", out var leader) && leader.ValueKind == JsonValueKind.Object, $"range 1 has no leader: {first}");
        }

        // 5. status says running; down stops every node; status then says not running (exit 5).
        Assert.Equal(0, Kvctl("local", "status", "--dir", Dir).Code);
        var down = Kvctl("local", "down", "--dir", Dir);
        Assert.Equal(0, down.Code);
        Assert.DoesNotContain("SIGKILL", down.Stdout, StringComparison.Ordinal);
        for (var i = 1; i <= nodes; i++)
        {
            Assert.Contains($"node {i}: stopped", down.Stdout, StringComparison.Ordinal);
        }

        Assert.Equal(5, Kvctl("local", "status", "--dir", Dir).Code);
    }

    private static List<string> Endpoints(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()!)];
    }

    /// <summary>Runs kvctl with this test's context file.</summary>
    private (int Code, string Stdout, string Stderr) Kvctl(params string[] args) => KvctlProcess.Run(output, ContextPath, args);
}
