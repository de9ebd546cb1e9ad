using System.Text.Json;
using Kv.System.Tests.Cluster;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// kvctl's operation verbs against a real `kvctl local up --nodes 4` cluster (issue 13, parts 3 to
/// 10): a drain's dry run changes nothing, the drain empties the store with its progress and is
/// audited, a resubmitted id follows the same operation, a split and a leader transfer go through
/// operations, a finished operation cannot be cancelled, the scheduler pauses and resumes, and the
/// replication factor is shown and set. They need the server side of issue 13 (branch ops-exec).
/// </summary>
public sealed class KvctlOperationsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kv-system-tests", Guid.NewGuid().ToString("N"));

    private string Dir => Path.Combine(_root, "local");

    private string ContextPath => Path.Combine(_root, "kvctl-context.json");

    public void Dispose()
    {
        var (code, stdout, stderr) = Kvctl("local", "down", "--dir", Dir, "--timeout", "10");
        output.WriteLine($"cleanup: local down exit {code}\n{stdout}{stderr}");
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
    public void A_drain_dry_run_changes_nothing_then_the_drain_empties_the_store_is_audited_and_a_resubmit_follows_it()
    {
        Up();

        // 1. The dry run prints a plan and changes nothing: store 3 keeps its replicas.
        var before = RangesOn(3);
        Assert.True(before > 0, "store 3 holds range 1's third replica in a 4-node cluster with replication factor 3");
        var plan = Kvctl("store", "drain", "3", "--dry-run", "-o", "json");
        Assert.True(plan.Code == 0, $"dry run exited {plan.Code}: {plan.Stderr}");
        using (var doc = JsonDocument.Parse(plan.Stdout))
        {
            Assert.Equal("kv/v1", doc.RootElement.GetProperty("apiVersion").GetString());
            Assert.Equal("Plan", doc.RootElement.GetProperty("kind").GetString());
            Assert.True(doc.RootElement.GetProperty("steps").GetArrayLength() > 0);
        }

        Assert.Empty(Items(Kvctl("operation", "list", "-o", "json").Stdout));

        // 2. The drain runs to the end with progress on stderr; the store ends empty.
        var drain = Kvctl("store", "drain", "3", "--id", "sys-drain-3", "--reason", "system test", "-o", "json");
        Assert.True(drain.Code == 0, $"drain exited {drain.Code}: {drain.Stderr}");
        Assert.Contains("sys-drain-3", drain.Stderr, StringComparison.Ordinal);
        using (var doc = JsonDocument.Parse(drain.Stdout))
        {
            Assert.Equal("succeeded", doc.RootElement.GetProperty("state").GetString());
            Assert.Equal("drainStore", doc.RootElement.GetProperty("spec").GetProperty("kind").GetString());
        }

        Assert.Equal(0, RangesOn(3));

        // 3. Listed, audited, and a resubmit with the same id follows the recorded operation.
        Assert.Contains(Items(Kvctl("operation", "list", "-o", "json").Stdout), o => o.GetProperty("id").GetString() == "sys-drain-3");
        var audit = Items(Kvctl("audit", "list", "--since", "1h", "--operation", "sys-drain-3", "-o", "json").Stdout);
        Assert.Contains(audit, e => e.GetProperty("action").GetString() == "submitted" && e.GetProperty("reason").GetString() == "system test");
        Assert.Contains(audit, e => e.GetProperty("action").GetString() == "succeeded");
        var again = Kvctl("store", "drain", "3", "--id", "sys-drain-3", "--reason", "system test");
        Assert.True(again.Code == 0, again.Stderr);
        Assert.Contains("already submitted", again.Stderr, StringComparison.Ordinal);
        Assert.Single(Items(Kvctl("operation", "list", "-o", "json").Stdout), o => o.GetProperty("id").GetString() == "sys-drain-3");

        // 4. A finished operation cannot be cancelled (exit 3, nothing changes).
        var cancel = Kvctl("operation", "cancel", "sys-drain-3", "--reason", "too late");
        Assert.Equal(3, cancel.Code);
    }

    [Fact]
    public void Split_and_leader_transfer_go_through_operations_and_the_scheduler_and_settings_answer()
    {
        Up();

        var split = Kvctl("range", "split", "--key", "m", "-o", "json");
        Assert.True(split.Code == 0, $"split exited {split.Code}: {split.Stderr}");
        Assert.Equal(2, Items(Kvctl("range", "list", "-o", "json").Stdout).Count);

        var noWait = Kvctl("range", "transfer-leader", "--range", "1", "--store", "2", "--no-wait");
        Assert.True(noWait.Code == 0, noWait.Stderr);
        var id = noWait.Stdout.Trim();
        var watch = Kvctl("operation", "watch", id, "-o", "json");
        Assert.True(watch.Code == 0, $"watch of {id} exited {watch.Code}: {watch.Stderr}");

        Assert.Equal(0, Kvctl("scheduler", "pause", "--reason", "system test").Code);
        using (var doc = JsonDocument.Parse(Kvctl("scheduler", "status", "-o", "json").Stdout))
        {
            Assert.True(doc.RootElement.GetProperty("paused").GetBoolean());
        }

        Assert.Equal(0, Kvctl("scheduler", "resume").Code);

        using (var doc = JsonDocument.Parse(Kvctl("cluster", "status", "-o", "json").Stdout))
        {
            Assert.Equal(3, doc.RootElement.GetProperty("replicationFactor").GetInt32());
        }

        Assert.Equal(0, Kvctl("cluster", "settings", "set", "--replication-factor", "1", "--reason", "system test").Code);
        using (var doc = JsonDocument.Parse(Kvctl("cluster", "settings", "-o", "json").Stdout))
        {
            Assert.Equal(1, doc.RootElement.GetProperty("replicationFactor").GetInt32());
        }

        // Store ids come from the id sequence ranges and replicas share, so node 4's store is
        // found by its default label rather than assumed to be 4.
        var node4 = Items(Kvctl("store", "list", "-o", "json").Stdout)
            .Single(s => s.GetProperty("labels").GetProperty("host").GetString() == "node4")
            .GetProperty("id").GetInt64().ToString(global::System.Globalization.CultureInfo.InvariantCulture);
        var maintenance = Kvctl("store", "maintenance", node4, "--for", "30m", "--reason", "system test");
        Assert.True(maintenance.Code == 0, maintenance.Stderr);
        Assert.Contains("in maintenance until", maintenance.Stdout, StringComparison.Ordinal);
    }

    private void Up()
    {
        var up = Kvctl("local", "up", "--nodes", "4", "--dir", Dir, "--timeout", "120");
        Assert.True(up.Code == 0, $"local up exited {up.Code}: {up.Stderr}");
    }

    private int RangesOn(int store)
    {
        var ranges = Kvctl("range", "list", "-o", "json");
        Assert.Equal(0, ranges.Code);
        return Items(ranges.Stdout).Count(r => r.GetProperty("replicas").EnumerateArray().Any(x => x.GetProperty("storeId").GetInt32() == store));
    }

    private static List<JsonElement> Items(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.GetProperty("items").EnumerateArray().Select(e => e.Clone())];
    }

    /// <summary>Runs kvctl with this test's context file.</summary>
    private (int Code, string Stdout, string Stderr) Kvctl(params string[] args) => KvctlProcess.Run(output, ContextPath, args);
}
