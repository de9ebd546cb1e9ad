using Kv.System.Tests.Cluster;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// Bad input at the cluster level: a node restarted with a membership (--join) other than the
/// one its data was created with, or with another cluster's data, refuses to start with a
/// message saying what is wrong, and the refusal changes nothing: started correctly afterwards,
/// the cluster works.
/// </summary>
public sealed class ClusterBadInputTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Refusal = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_node_restarted_with_a_different_join_order_refuses_to_start_and_changes_nothing()
    {
        // 1. Bootstrap, write a key, stop cleanly (SIGTERM: exit 0).
        await using var cluster = new TestCluster(output);
        cluster.StartAll();
        var clusterId = await cluster.WaitReadyAsync(Ready);
        using (var probe = cluster.Probe())
        {
            await probe.PutAsync(WriteLoad.Key("k"), WriteLoad.Key("v"), DateTime.UtcNow + Ready);
        }

        await AssertCleanStopAsync(cluster);

        // 2. Node 2 with the join list rotated (it would become member 1 while its store is 2): refused.
        var rotated = string.Join(',', cluster.Endpoints.Skip(1).Concat(cluster.Endpoints.Take(1)));
        var wrongJoin = cluster.Start(2, join: rotated);
        Assert.True(await wrongJoin.WaitForExitAsync(Refusal), $"node 2 started with --join {rotated} instead of {cluster.JoinList} is still running; it should refuse. Its output:\n{wrongJoin.Output}");
        Assert.NotEqual(0, wrongJoin.ExitCode);
        Assert.Contains("join", wrongJoin.Output, StringComparison.OrdinalIgnoreCase);

        // 3. The refusal changed nothing: started right, the cluster is the same and has the key.
        cluster.StartAll();
        Assert.Equal(clusterId, await cluster.WaitReadyAsync(Ready));
        using var after = cluster.Probe();
        Assert.Equal(WriteLoad.Key("v"), await after.GetAsync(WriteLoad.Key("k"), DateTime.UtcNow + Ready));
    }

    // Regression: at e348688 the HEALTHY nodes stopped instead (a non-leader answered their
    // heartbeats with CLUSTER_ID_MISMATCH); only the placement leader speaks for the cluster now.
    [Fact]
    public async Task A_node_with_another_clusters_data_refuses_to_start_and_the_cluster_keeps_working()
    {
        // 1. Cluster A: bootstrap, write a key, stop cleanly.
        await using var a = new TestCluster(output);
        a.StartAll();
        var clusterA = await a.WaitReadyAsync(Ready);
        using (var probe = a.Probe())
        {
            await probe.PutAsync(WriteLoad.Key("k"), WriteLoad.Key("from-a"), DateTime.UtcNow + Ready);
        }

        await AssertCleanStopAsync(a);

        // 2. Cluster B on the same addresses (A is stopped): another cluster id, other data.
        string clusterB;
        var dataOfB2 = Path.Combine(a.Dir, "data-of-b-node2");
        await using (var b = new TestCluster(output, a.Ports))
        {
            b.StartAll();
            clusterB = await b.WaitReadyAsync(Ready);
            await AssertCleanStopAsync(b);
            Directory.Move(b.DataDir(2), dataOfB2);
        }

        Assert.NotEqual(clusterA, clusterB);

        // 3. A's nodes 1 and 3 with their own data, node 2 with B's: node 2 is refused and says why.
        a.Start(1);
        a.Start(3);
        var wrongData = a.Start(2, dataDir: dataOfB2);
        Assert.True(await wrongData.WaitForExitAsync(Refusal), $"node 2 started with cluster {clusterB}'s data among cluster {clusterA}'s nodes is still running; it should refuse. Its output:\n{wrongData.Output}");
        Assert.NotEqual(0, wrongData.ExitCode);
        Assert.True(wrongData.Output.Contains(clusterA, StringComparison.Ordinal) || wrongData.Output.Contains(clusterB, StringComparison.Ordinal),
            $"the refusal should name the cluster ids; it said:\n{wrongData.Output}");

        // 4. Nodes 1 and 3 kept running; node 2 with its own data rejoins, and A's key is there.
        Assert.False(a.Node(1)!.HasExited || a.Node(3)!.HasExited, "a healthy node stopped because of the foreign one");
        a.Start(2);
        Assert.Equal(clusterA, await a.WaitReadyAsync(Ready));
        using var after = a.Probe();
        Assert.Equal(WriteLoad.Key("from-a"), await after.GetAsync(WriteLoad.Key("k"), DateTime.UtcNow + Ready));
    }

    private static async Task AssertCleanStopAsync(TestCluster cluster)
    {
        for (var i = 1; i <= cluster.Count; i++)
        {
            var node = cluster.Node(i)!;
            var code = await node.StopAsync(TimeSpan.FromSeconds(20));
            Assert.True(code == 0, $"node {i} did not exit 0 on SIGTERM ({(code is null ? "killed after 20 s" : "exit " + code)})");
        }
    }
}
