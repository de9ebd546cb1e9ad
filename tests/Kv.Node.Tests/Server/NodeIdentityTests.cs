using Kv.Client.Contracts;
using Kv.Node.Server.Configuration;
using Kv.Node.Server.Hosting;
using Kv.Node.Tests.Cluster;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Node.Tests.Server;

/// <summary>A data directory serves only the cluster and role it was created for.</summary>
public sealed class NodeIdentityTests
{
    [Fact]
    public async Task A_restart_with_a_different_member_list_is_refused_and_changes_nothing()
    {
        await using var c = new InProcessCluster(1, placementMembers: 1);
        await c.StartAsync();
        await c.StopNodeAsync(0);

        var changed = c.Config(0) with { Join = [c.Addresses[0], "127.0.0.1:1", "127.0.0.1:2"] };
        await using var host = new NodeHost(changed, NullLoggerFactory.Instance);
        var e = await Assert.ThrowsAsync<NodeConfigException>(() => host.StartAsync(CancellationToken.None));
        Assert.Contains("was created with --join", e.Message, StringComparison.Ordinal);
        await host.DisposeAsync();

        // The original configuration still starts.
        await c.StartNodeAsync(0);
    }

    [Fact]
    public async Task A_wiped_member_claiming_its_old_store_id_is_stopped_by_placement()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAsync();
        await c.PlacementAsync(PlacementContract.Bootstrap, new BootstrapRequest { Header = new() }, r => r.Header);
        await c.WaitForRangeLeaderAsync(1);

        // Node 3 loses its disk and comes back empty with the same address: a different store
        // (new uuid) claiming store id 3. Placement must refuse it and the node must stop.
        await c.StopNodeAsync(2);
        Directory.Delete(c.Config(2).DataDir, recursive: true);
        await c.StartNodeAsync(2);
        var stopped = await Task.WhenAny(c.Hosts[2]!.Stopped, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.Same(c.Hosts[2]!.Stopped, stopped);
        Assert.Contains("store id", c.Hosts[2]!.FatalReason, StringComparison.OrdinalIgnoreCase);
    }
}
