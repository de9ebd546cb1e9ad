using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Kv.System.Tests.Cluster;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// <c>kvctl local up|status|down</c> end to end, as a user runs them: the built kvctl starts real
/// kv-node processes (found next to it), writes the kvctl context, survives a node's kill -9
/// (up restarts only that node), and keeps the data across down and up.
/// </summary>
public sealed class KvctlLocalClusterTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kv-system-tests", Guid.NewGuid().ToString("N"));

    private string Dir => Path.Combine(_root, "local");

    private string ContextPath => Path.Combine(_root, "kvctl-context.json");

    public void Dispose()
    {
        // Whatever happened, no node outlives the test.
        var (code, stdout, stderr) = Kvctl("local", "down", "--dir", Dir, "--timeout", "10");
        output.WriteLine($"cleanup: local down exit {code}\n{stdout}{stderr}");
        foreach (var log in Directory.Exists(Dir) ? Directory.GetFiles(Dir, "kv-node.log", SearchOption.AllDirectories) : [])
        {
            output.WriteLine($"---- {log} (last 15 lines)");
            foreach (var line in File.ReadLines(log).TakeLast(15))
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

    [Fact]
    public async Task Up_status_down_and_up_again_keep_the_data_and_up_restarts_only_a_killed_node()
    {
        // 1. up: a new 3-node cluster, bootstrapped, ready; endpoints printed and saved in the context.
        var up = Kvctl("local", "up", "--nodes", "3", "--dir", Dir, "--timeout", "90", "-o", "json");
        Assert.True(up.Code == 0, $"local up exited {up.Code}: {up.Stderr}");
        var endpoints = Endpoints(up.Stdout);
        Assert.Equal(3, endpoints.Count);
        using (var context = JsonDocument.Parse(File.ReadAllText(ContextPath)))
        {
            Assert.Equal(endpoints, context.RootElement.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()!));
        }

        using (var probe = new ClusterProbe(endpoints))
        {
            await probe.PutAsync(WriteLoad.Key("survives"), WriteLoad.Key("down-and-up"), DateTime.UtcNow + TimeSpan.FromSeconds(30));
        }

        // 2. up again while running: nothing new starts.
        var pids = Pids();
        Assert.Equal(0, Kvctl("local", "up", "--dir", Dir).Code);
        Assert.Equal(pids, Pids());

        // 3. kill -9 node 3: status says so (exit 5); up restarts node 3 only.
        using (var victim = Process.GetProcessById(pids[2]))
        {
            victim.Kill();
        }

        await Eventually.TrueAsync(() => (Kvctl("local", "status", "--dir", Dir).Code == 5, "status still reports every node alive"), DateTime.UtcNow + TimeSpan.FromSeconds(10));
        Assert.Equal(0, Kvctl("local", "up", "--dir", Dir, "--timeout", "90").Code);
        var afterRestart = Pids();
        Assert.Equal(pids.Take(2), afterRestart.Take(2));
        Assert.NotEqual(pids[2], afterRestart[2]);

        // 4. down: every node stops cleanly; status exit 5; down again is fine.
        var down = Kvctl("local", "down", "--dir", Dir);
        Assert.Equal(0, down.Code);
        Assert.Contains("node 3: stopped", down.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("SIGKILL", down.Stdout, StringComparison.Ordinal);
        Assert.All(afterRestart, pid => Assert.False(IsRunning(pid), $"pid {pid} still runs after down"));
        Assert.Equal(5, Kvctl("local", "status", "--dir", Dir).Code);
        Assert.Equal(0, Kvctl("local", "down", "--dir", Dir).Code);

        // 5. up again: same endpoints, and the data is still there.
        var again = Kvctl("local", "up", "--dir", Dir, "--timeout", "90", "-o", "json");
        Assert.True(again.Code == 0, $"second local up exited {again.Code}: {again.Stderr}");
        Assert.Equal(endpoints, Endpoints(again.Stdout));
        using (var probe = new ClusterProbe(endpoints))
        {
            Assert.Equal(WriteLoad.Key("down-and-up"), await probe.GetAsync(WriteLoad.Key("survives"), DateTime.UtcNow + TimeSpan.FromSeconds(30)));
        }

        Assert.Equal(0, Kvctl("local", "status", "--dir", Dir).Code);
    }

    private static List<string> Endpoints(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()!)];
    }

    private List<int> Pids()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "cluster.json")));
        return [.. doc.RootElement.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("pid").GetInt32())];
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault() is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Runs kvctl with this test's context file.</summary>
    private (int Code, string Stdout, string Stderr) Kvctl(params string[] args) => KvctlProcess.Run(output, ContextPath, args);
}
