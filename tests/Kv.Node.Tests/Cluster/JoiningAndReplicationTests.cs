using System.Net;
using Grpc.Core;
using Grpc.Health.V1;
using Kv.Client.Cluster;
using Kv.Node.Server.Hosting;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Cluster;

/// <summary>
/// Real in-process nodes: a store that is not a placement member started before the bootstrap
/// waits for it (not ready, not exiting), then joins with its labels; a five-store cluster keeps
/// three replicas of the first range and of a split's halves; range sizes count unflushed data.
/// </summary>
[Collection(InProcessClusterCollection.Name)]
public sealed class JoiningAndReplicationTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60); // bounds waits on conditions; passing runs take seconds

    private static async Task WaitForAsync(Func<Task<(bool Done, string State)>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var (done, state) = await condition();
            if (done)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}; last seen: {state}");
            await Task.Delay(50);
        }
    }

    private static async Task<(bool, string)> HealthIs(Health.HealthClient health, HealthCheckResponse.Types.ServingStatus expected)
    {
        try
        {
            var status = (await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2))).Status;
            return (status == expected, status.ToString());
        }
        catch (RpcException e)
        {
            return (false, e.Status.ToString());
        }
    }

    [Fact]
    public async Task A_store_started_before_the_bootstrap_waits_not_ready_then_joins_with_its_labels()
    {
        await using var c = new InProcessCluster(2, placementMembers: 1)
        {
            Configure = (i, config) => i == 1 ? config with { Labels = StoreLabels.Parse("zone=b,host=h2").Labels! } : config,
        };
        NodeHost? waiting = null;
        c.BeforeStart = (i, host) => waiting = i == 1 ? host : waiting;
        await c.StartNodeAsync(0);

        // 1. The non-member starts first thing after the member, before any bootstrap.
        var joining = c.StartNodeAsync(1);
        using var http = new HttpClient();
        var health = new Health.HealthClient(c.Channel(c.Addresses[1]).Channel);
        await WaitForAsync(async () =>
        {
            if (waiting?.MetricsAddress is not { } metrics)
            {
                return (false, "no metrics listener yet");
            }

            var readyz = await http.GetAsync(new Uri(metrics, "/readyz"));
            var body = await readyz.Content.ReadAsStringAsync();
            return (readyz.StatusCode == HttpStatusCode.ServiceUnavailable && body.Contains("not bootstrapped yet", StringComparison.Ordinal), $"{readyz.StatusCode} {body}");
        }, "/readyz of the waiting store to say it waits for the bootstrap");
        await WaitForAsync(() => HealthIs(health, HealthCheckResponse.Types.ServingStatus.NotServing), "grpc.health.v1 NOT_SERVING on the waiting store");

        // 2. It keeps waiting: it neither finished starting nor gave up.
        Assert.False(joining.IsCompleted, $"the store should still wait for the bootstrap: {joining.Exception}");
        Assert.Null(waiting!.FatalReason);

        // 3. Bootstrap: it gets a store id from the id sequence, registers with its labels and turns ready.
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await joining.WaitAsync(Patience);
        Assert.True(c.Hosts[1]!.StoreId >= 1000, $"store id {c.Hosts[1]!.StoreId} should come from the id sequence");
        await WaitForAsync(async () =>
        {
            var stores = await c.PlacementAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest { Header = new() }, r => r.Header);
            var joined = stores.Stores.FirstOrDefault(s => s.Store.StoreId == c.Hosts[1]!.StoreId);
            return (joined is { State: StoreState.Up } && StoreLabels.Format(joined.Store.Labels) == "host=h2,zone=b", stores.ToString());
        }, "the joined store to be Up with its labels");
        await WaitForAsync(() => HealthIs(health, HealthCheckResponse.Types.ServingStatus.Serving), "grpc.health.v1 SERVING on the joined store");
    }

    [Fact]
    public async Task Stopping_a_store_that_waits_for_the_bootstrap_ends_the_wait_and_frees_its_address()
    {
        await using var c = new InProcessCluster(2, placementMembers: 1);
        NodeHost? waiting = null;
        c.BeforeStart = (i, host) => waiting = i == 1 ? host : waiting;
        await c.StartNodeAsync(0);
        var joining = c.StartNodeAsync(1);
        var health = new Health.HealthClient(c.Channel(c.Addresses[1]).Channel);
        await WaitForAsync(() => HealthIs(health, HealthCheckResponse.Types.ServingStatus.NotServing), "the waiting store's stand-in health service");

        await waiting!.DisposeAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => joining.WaitAsync(Patience));
        var port = int.Parse(c.Addresses[1].Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, port);
        listener.Start(); // the stand-in server let go of the address
        listener.Stop();
    }

    [Fact]
    public async Task Five_stores_keep_three_replicas_of_the_first_range_and_of_both_halves_of_a_split()
    {
        await using var c = new InProcessCluster(5, placementMembers: 5);
        await c.StartAsync();
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        var first = await c.WaitForRangeLeaderAsync(1);
        Assert.Equal([1ul, 2ul, 3ul], first.Range.Replicas.Select(r => r.StoreId).Order());

        // Only the three stores named hold a replica; the other two members hold placement only.
        await WaitForAsync(() => Task.FromResult((c.Hosts.Take(3).All(h => h!.Ranges.Contains(1)), "replicas opened on stores 1-3")), "range 1 on stores 1, 2 and 3");
        Assert.False(c.Hosts[3]!.Ranges.Contains(1));
        Assert.False(c.Hosts[4]!.Ranges.Contains(1));

        await using var client = KvClient.Connect(c.Addresses);
        var value = new byte[1000];
        for (var i = 0; i < 100; i++)
        {
            await client.PutAsync(System.Text.Encoding.UTF8.GetBytes($"k{i:D3}"), value);
        }

        // Sizes count what is still in memtables: nothing was flushed, yet the range is not 0 B.
        await WaitForAsync(async () =>
        {
            var r = await c.PlacementAsync(static (s, r, o) => s.Placement.GetRangeByIdAsync(r, o), new GetRangeByIdRequest { Header = new(), RangeId = 1 }, x => x.Header);
            return (r.Range.ApproximateSizeBytes >= 50_000, $"{r.Range.ApproximateSizeBytes} bytes");
        }, "range 1 to report the ~100 KB written (unflushed)");

        // A split copies the parent's replicas: the right half is on the same three stores.
        await using var ops = RangeOperations.Connect(c.Addresses);
        var split = await ops.SplitAsync("k050"u8.ToArray());
        Assert.Equal([1ul, 2ul, 3ul], split.Left.Replicas.Select(r => r.StoreId).Order());
        Assert.Equal([1ul, 2ul, 3ul], split.Right.Replicas.Select(r => r.StoreId).Order());
        var right = await c.WaitForRangeLeaderAsync(split.Right.RangeId);
        Assert.Equal(3, right.Range.Replicas.Count);
    }
}
