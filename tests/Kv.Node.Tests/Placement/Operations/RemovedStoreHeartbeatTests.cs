using Grpc.Core;
using Kv.Client.Transport;
using Kv.Node.Server.Hosting;
using Kv.Node.Server.Services;
using Kv.Proto.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using static Kv.Node.Tests.Placement.Operations.OperationsTestData;

namespace Kv.Node.Tests.Placement.Operations;

/// <summary>
/// A removed store's heartbeat is refused by <c>kv.v1.Placement</c> (a real GrpcServer on 127.0.0.1
/// over a <see cref="FakePlacementGroup"/>), even when its descriptor is unchanged and so no
/// PutStore would be proposed for the state machine to refuse.
/// </summary>
public sealed class RemovedStoreHeartbeatTests : IAsyncLifetime
{
    private readonly FakePlacementGroup _group = new(1, new PlacementMember { MemberId = 1, Address = "127.0.0.1:7001" });
    private readonly ManualTimeProvider _clock = new(T0);
    private GrpcServer Server { get; set; } = null!;
    private NodeStubs Channel { get; set; } = null!;

    public async Task InitializeAsync()
    {
        _group.Lead(term: 1);
        var service = new PlacementService(_group, new PlacementServiceOptions { ProposalTimeout = TimeSpan.FromSeconds(2) }, _clock, NullLogger.Instance);
        Server = await GrpcServer.StartAsync(new GrpcServerOptions(), services => services.AddSingleton(service), endpoints => endpoints.MapGrpcService<PlacementService>());
        Channel = new NodeStubs(KvChannels.Create(Server.Address));
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
    }

    private Task<StoreHeartbeatResponse> Heartbeat(ulong storeId) =>
        Channel.Placement.StoreHeartbeatAsync(
            new StoreHeartbeatRequest { Store = new StoreDescriptor { StoreId = storeId, Address = $"127.0.0.1:{7100 + storeId}", StoreUuid = $"uuid-{storeId}", Version = "0.1.0" } },
            new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(30))).ResponseAsync;

    [Fact]
    public async Task A_removed_store_heartbeating_with_its_unchanged_descriptor_is_refused_and_not_counted_alive()
    {
        var bootstrap = await Channel.Placement.BootstrapAsync(new BootstrapRequest(), new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(30)));
        Assert.Null(bootstrap.Header.Error);
        for (ulong id = 1; id <= 4; id++)
        {
            Assert.Null((await Heartbeat(id)).Header.Error);
        }

        foreach (var next in new[] { StoreAdminState.Draining, StoreAdminState.Drained, StoreAdminState.Removed })
        {
            var result = await _group.ProposeAsync(Admin(4, next), CancellationToken.None);
            Assert.Equal(PlacementErrorCode.PlacementErrorNone, result.Code);
        }

        int applied = _group.Applied.Count;
        _clock.Advance(5_000);
        var refused = await Heartbeat(4);
        Assert.Equal(PlacementErrorCode.PlacementErrorStoreRemoved, refused.Header.Error?.Code);
        Assert.Contains("empty data directory", refused.Header.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(applied, _group.Applied.Count);

        // Control: a store that was not removed still heartbeats; the removed one's last heartbeat stays where it was.
        Assert.Null((await Heartbeat(3)).Header.Error);
        var stores = (await Channel.Placement.ListStoresAsync(new ListStoresRequest(), new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(30)))).Stores;
        Assert.Equal(T0, stores.Single(s => s.Store.StoreId == 4).LastHeartbeatMs);
        Assert.Equal(T0 + 5_000, stores.Single(s => s.Store.StoreId == 3).LastHeartbeatMs);
    }
}
