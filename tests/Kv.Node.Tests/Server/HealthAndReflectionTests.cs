using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1;
using Kv.Node.Tests.Cluster;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Server;

/// <summary>
/// What standard gRPC tools and Kubernetes gRPC probes see on a node: grpc.health.v1 answers
/// NOT_SERVING until the node has joined a bootstrapped cluster, then SERVING; server reflection
/// lists the kv.v1 services.
/// </summary>
public sealed class HealthAndReflectionTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30); // bounds waits on conditions; passing runs take a second

    [Fact]
    public async Task Health_is_NOT_SERVING_before_bootstrap_and_SERVING_after()
    {
        await using var c = new InProcessCluster(1, placementMembers: 1);
        await c.StartAsync();
        var health = new Health.HealthClient(c.Channel(c.Addresses[0]).Channel);

        // The store is open and the node answers, but no cluster exists yet.
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest())).Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest { Service = "kv.v1.RawKv" })).Status);

        // Watch from before the bootstrap, so the change is seen as it happens (no polling).
        using var watch = health.Watch(new HealthCheckRequest(), deadline: DateTime.UtcNow + Patience);
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        var seen = new List<HealthCheckResponse.Types.ServingStatus>();
        while (await watch.ResponseStream.MoveNext() && watch.ResponseStream.Current.Status != HealthCheckResponse.Types.ServingStatus.Serving)
        {
            seen.Add(watch.ResponseStream.Current.Status);
        }

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, watch.ResponseStream.Current.Status);
        Assert.All(seen, s => Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, s));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = "kv.v1.TxnKv" })).Status);
    }

    [Fact]
    public async Task Health_of_an_unknown_service_is_NOT_FOUND()
    {
        await using var c = new InProcessCluster(1, placementMembers: 1);
        await c.StartAsync();
        var health = new Health.HealthClient(c.Channel(c.Addresses[0]).Channel);

        var ex = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "no.Such" }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
    }

    [Fact]
    public async Task Reflection_lists_the_kv_v1_services_and_health()
    {
        await using var c = new InProcessCluster(1, placementMembers: 1);
        await c.StartAsync();
        var reflection = new ServerReflection.ServerReflectionClient(c.Channel(c.Addresses[0]).Channel);

        using var call = reflection.ServerReflectionInfo(deadline: DateTime.UtcNow + Patience);
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext());
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();

        Assert.Contains(RawKv.Descriptor.FullName, services);
        Assert.Contains(TxnKv.Descriptor.FullName, services);
        Assert.Contains(Admin.Descriptor.FullName, services);
        Assert.Contains(Kv.Proto.V1.Placement.Descriptor.FullName, services);
        Assert.Contains("grpc.health.v1.Health", services);
        // The echo service is the tests' own now; a production node does not serve it.
        Assert.DoesNotContain(Echo.Descriptor.FullName, services);
    }
}
