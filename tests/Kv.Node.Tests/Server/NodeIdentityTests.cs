using Kv.Node.Server.Configuration;
using Kv.Node.Server.Hosting;
using Kv.Node.Tests.Cluster;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Node.Tests.Server;

/// <summary>A data directory serves only the cluster and role it was created for.</summary>
[Collection(InProcessClusterCollection.Name)]
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
    public async Task A_wiped_placement_member_is_refused_at_start_and_votes_for_nothing()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAsync();
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.WaitForRangeLeaderAsync(1);

        // Node 3 loses its disk and comes back empty with the same address. Starting it would
        // make it a voter with no log; it must refuse, before opening any group.
        await c.StopNodeAsync(2);
        Directory.Delete(c.Config(2).DataDir, recursive: true);
        await using var host = new NodeHost(c.Config(2), NullLoggerFactory.Instance);
        var e = await Assert.ThrowsAsync<NodeConfigException>(() => host.StartAsync(CancellationToken.None));
        Assert.Contains("lost its data", e.Message, StringComparison.Ordinal);

        // The cluster is unaffected: it still takes writes with two of three.
        await c.PutAsync("still", "ok", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_second_store_claiming_a_registered_store_id_is_stopped_by_placement()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAsync();
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.WaitForRangeLeaderAsync(1);

        // A copy of node 3's identity with another uuid (a cloned VM that regenerated it, say)
        // heartbeats as store 3: placement must refuse it, and that node must stop.
        var config = c.Config(2);
        await c.StopNodeAsync(2);
        using (var engine = Kv.Node.Storage.Engine.Open(Path.Combine(config.DataDir, "db")))
        {
            var ident = StoreIdent.Read(engine)!;
            (ident with { StoreUuid = Guid.NewGuid().ToString("N") }).Write(engine);
        }

        await c.StartNodeAsync(2);
        var stopped = await Task.WhenAny(c.Hosts[2]!.Stopped, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.Same(c.Hosts[2]!.Stopped, stopped);
        Assert.Contains("store", c.Hosts[2]!.FatalReason, StringComparison.OrdinalIgnoreCase);
    }
}
