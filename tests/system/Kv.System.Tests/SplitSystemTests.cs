using Kv.System.Tests.Cluster;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// <c>kvctl range split</c> against a 3-node cluster of real kv-node processes under a steady
/// write load, then kill -9 of a node: every acknowledged write is read back.
/// </summary>
public sealed class SplitSystemTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Resume = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Kvctl_range_split_under_writes_then_kill_9_of_a_node_loses_no_acknowledged_write()
    {
        await using var cluster = new TestCluster(output);
        cluster.StartAll();
        await cluster.WaitReadyAsync(Ready);
        using var probe = cluster.Probe();

        // 1. Writers put w{writer}-{n}: keys on both sides of the split points below.
        await using var load = WriteLoad.Start(cluster, writers: 4);
        await load.WaitForMoreAcksAsync(40, Ready, "at the start");

        // 2. Split twice through kvctl while the writes go on.
        var first = Kvctl(cluster, "range", "split", "--key", "w2", "-o", "json");
        Assert.Equal(0, first.Code);
        // kvctl range split submits a split operation and prints it once it finished (docs/CLI.md).
        Assert.Contains("\"kind\": \"Operation\"", first.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"state\": \"succeeded\"", first.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"splitKey\": \"w2\"", first.Stdout, StringComparison.Ordinal);
        var second = Kvctl(cluster, "range", "split", "--key", "w1");
        Assert.Equal(0, second.Code);
        Assert.Contains("succeeded", second.Stdout, StringComparison.Ordinal);

        // A key that already starts a range is refused as a usage error, saying why.
        var again = Kvctl(cluster, "range", "split", "--key", "w1");
        Assert.Equal(2, again.Code);
        Assert.Contains("start key", again.Stderr, StringComparison.Ordinal);
        await load.WaitForMoreAcksAsync(40, Resume, "after the splits");

        // 3. kill -9 the node leading range 1: every range re-elects where needed and writes resume.
        var victim = await cluster.RangeLeaderNodeAsync(probe, Resume);
        await cluster.KillAsync(victim);
        await load.WaitForMoreAcksAsync(40, Resume, $"after node {victim} was killed");
        await load.StopAsync();
        output.WriteLine($"{load.AckedCount} writes acknowledged, {load.UnknownCount} with unknown outcome");

        // 4. Every acknowledged write is readable through the two nodes left.
        await using var reader = cluster.Client(Ready);
        var missing = new List<string>();
        foreach (var key in load.Acked)
        {
            var value = await reader.GetAsync(WriteLoad.Key(key));
            if (value is null || !value.AsSpan().SequenceEqual(WriteLoad.ValueOf(key)))
            {
                missing.Add(key);
            }
        }

        Assert.True(missing.Count == 0, $"{missing.Count} of {load.AckedCount} acknowledged writes are missing or wrong, e.g. {string.Join(", ", missing.Take(5))}");
        var ranges = await reader.ListRangesAsync();
        Assert.Equal(["", "w1", "w2"], ranges.Select(r => r.Range.StartKey.ToStringUtf8()));
    }

    /// <summary>Runs kvctl against the cluster's first endpoint.</summary>
    private (int Code, string Stdout, string Stderr) Kvctl(TestCluster cluster, params string[] args) =>
        KvctlProcess.Run(output, Path.Combine(cluster.Dir, "kvctl-context.json"), [.. args, "--endpoint", cluster.Endpoints[0]]);
}
