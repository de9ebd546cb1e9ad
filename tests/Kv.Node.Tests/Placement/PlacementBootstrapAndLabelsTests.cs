using Grpc.Core;
using Kv.Client.Transport;
using Kv.Node.Server.Hosting;
using Kv.Node.Server.Services;
using Kv.Proto.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Node.Tests.Placement;

/// <summary>
/// <c>kv.v1.Placement</c> with five members (a real GrpcServer on 127.0.0.1 over a
/// <see cref="FakePlacementGroup"/>): bootstrap puts the first range on three of them, and store
/// labels sent with heartbeats are kept, shown and checked.
/// </summary>
public sealed class PlacementBootstrapAndLabelsTests : IAsyncLifetime
{
    private static readonly PlacementMember[] Members =
        [.. Enumerable.Range(1, 5).Select(i => new PlacementMember { MemberId = (ulong)i, Address = $"127.0.0.1:{7100 + i}" })];

    private readonly FakePlacementGroup _group = new(1, Members);
    private GrpcServer Server { get; set; } = null!;
    private NodeStubs Channel { get; set; } = null!;

    public async Task InitializeAsync()
    {
        _group.Lead(term: 1);
        var service = new PlacementService(_group, new PlacementServiceOptions { ProposalTimeout = TimeSpan.FromSeconds(2) }, TimeProvider.System, NullLogger.Instance);
        Server = await GrpcServer.StartAsync(new GrpcServerOptions(), services => services.AddSingleton(service), endpoints => endpoints.MapGrpcService<PlacementService>());
        Channel = new NodeStubs(KvChannels.Create(Server.Address));
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
    }

    private Task<TResponse> Call<TRequest, TResponse>(Func<NodeStubs, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call, TRequest request) =>
        call(Channel, request, new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(30))).ResponseAsync;

    private static StoreDescriptor Store(ulong id, params (string Key, string Value)[] labels)
    {
        var store = new StoreDescriptor { StoreId = id, Address = $"127.0.0.1:{7100 + (int)id}", StoreUuid = "uuid-" + id, Version = "0.1.0" };
        foreach (var (k, v) in labels)
        {
            store.Labels.Add(k, v);
        }

        return store;
    }

    [Fact]
    public async Task Bootstrap_of_five_members_puts_the_first_range_on_three()
    {
        var response = await Call(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest());

        Assert.Null(response.Header.Error);
        Assert.Equal([1ul, 2ul, 3ul], response.FirstRange.Replicas.Select(r => r.StoreId));
        var applied = Assert.Single(_group.Applied);
        Assert.Equal(3, applied.Bootstrap.FirstRange.Replicas.Count);

        // A member outside the first range is not named it: it has no replica to create from it
        // (only a store holding a bootstrap replica is, see PlacementSnapshot.InitialRangeFor).
        var heartbeat = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(5) });
        Assert.True(heartbeat.Bootstrapped);
        Assert.Null(heartbeat.InitialRange);
        var named = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(3) });
        Assert.Contains(named.InitialRange.Replicas, r => r.StoreId == 3);
    }

    [Fact]
    public async Task Labels_sent_with_a_heartbeat_are_kept_and_listed_and_a_change_is_applied()
    {
        Assert.Null((await Call(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest())).Header.Error);

        Assert.Null((await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1, ("zone", "a"), ("host", "h1")) })).Header.Error);
        var listed = await Call(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest());
        var store = Assert.Single(listed.Stores);
        Assert.Equal("a", store.Store.Labels["zone"]);
        Assert.Equal("h1", store.Store.Labels["host"]);

        // A restart with other labels updates the record.
        Assert.Null((await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1, ("zone", "b")) })).Header.Error);
        listed = await Call(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest());
        Assert.Equal("zone=b", Kv.Client.Cluster.StoreLabels.Format(Assert.Single(listed.Stores).Store.Labels));
    }

    [Theory]
    [InlineData("zone", "")]
    [InlineData("", "a")]
    [InlineData("zone", "a b")]
    [InlineData("-zone", "a")]
    public async Task A_store_with_bad_labels_is_refused_and_nothing_changes(string key, string value)
    {
        Assert.Null((await Call(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest())).Header.Error);
        var before = _group.Applied.Count;

        var response = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(2, (key, value)) });

        Assert.Equal(PlacementErrorCode.PlacementErrorInvalidArgument, response.Header.Error?.Code);
        Assert.Contains("label", response.Header.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(before, _group.Applied.Count);
        Assert.Empty((await Call(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest())).Stores);
    }
}
