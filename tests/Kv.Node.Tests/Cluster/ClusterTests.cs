using Google.Protobuf;
using Grpc.Core;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Views;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Cluster;

/// <summary>Three in-process nodes: bootstrap, replication, linearizable reads, refusals.</summary>
[Collection(InProcessClusterCollection.Name)]
public sealed class ClusterTests
{
    [Fact]
    public async Task Fix_E_a_store_sending_at_its_limit_still_receives_snapshots()
    {
        await using var c = new InProcessCluster(1, 1);
        await c.StartAsync();
        var host = c.Hosts[0]!;
        var send = host.Snapshots!.Limiter;
        var receive = host.SnapshotReceiving!.Limiter;

        // Every send slot taken (transfers out to a peer that does the same to us): receives still get a slot.
        var held = 0;
        while (send.TryAcquire())
        {
            held++;
        }

        Assert.Equal(send.Maximum, held);
        Assert.Equal(send.Maximum, receive.Maximum);
        Assert.True(receive.TryAcquire());
        receive.Release();
        for (var i = 0; i < held; i++)
        {
            send.Release();
        }
    }

    [Fact]
    public async Task Bootstrap_once_then_writes_replicate_and_reads_see_them()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAsync();

        var boot = await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        Assert.Equal(PlacementErrorCode.PlacementErrorNone, boot.Header.Error?.Code ?? PlacementErrorCode.PlacementErrorNone);
        Assert.Equal(3, boot.FirstRange.Replicas.Count);

        var again = await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        Assert.Equal(PlacementErrorCode.PlacementErrorAlreadyBootstrapped, again.Header.Error.Code);

        for (var i = 0; i < 20; i++)
        {
            await c.PutAsync($"k{i:D2}", $"v{i}");
        }

        var leader = await c.WaitForRangeLeaderAsync(1);
        var got = await c.GetAsync(leader.LeaderAddress, "k07");
        Assert.Null(got.Error);
        Assert.True(got.Found);
        Assert.Equal("v7", got.Value.ToStringUtf8());

        var missing = await c.GetAsync(leader.LeaderAddress, "nope");
        Assert.Null(missing.Error);
        Assert.False(missing.Found);

        // A follower refuses with a NotLeader hint naming the leader's address.
        var follower = c.Addresses.First(a => a != leader.LeaderAddress);
        var refused = await c.GetAsync(follower, "k07");
        Assert.NotNull(refused.Error?.NotLeader);
        Assert.Equal(leader.LeaderAddress, refused.Error.NotLeader.LeaderAddress);

        // Scan within the range, both directions, with a limit.
        var scan = await c.Channel(leader.LeaderAddress).RawKv.ScanAsync(new RawScanRequest
        {
            Context = new RangeContext { RangeId = 1, Epoch = leader.Range.Epoch },
            StartKey = ByteString.CopyFromUtf8("k05"),
            EndKey = ByteString.CopyFromUtf8("k10"),
            Limit = 3,
            Reverse = true,
        });
        Assert.Equal(["k09", "k08", "k07"], scan.Pairs.Select(p => p.Key.ToStringUtf8()));
        Assert.True(scan.More);
    }

    [Fact]
    public async Task A_write_survives_the_leader_stopping_and_the_restarted_node_catches_up()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAsync();
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.PutAsync("before", "1");
        var leader = await c.WaitForRangeLeaderAsync(1);
        var index = Array.IndexOf(c.Addresses, leader.LeaderAddress);
        await c.StopNodeAsync(index);

        await c.PutAsync("during", "2", TimeSpan.FromSeconds(30));
        await c.StartNodeAsync(index);

        // Stop another node: the restarted one is now needed for a quorum, so reads through the
        // new leader prove it caught up with both writes.
        var current = (await c.WaitForRangeLeaderAsync(1)).LeaderAddress;
        var other = Enumerable.Range(0, 3).First(i => i != index && c.Addresses[i] != current);
        await c.StopNodeAsync(other);
        await c.PutAsync("after", "3", TimeSpan.FromSeconds(30));
        var now = await c.WaitForRangeLeaderAsync(1);
        foreach (var (k, v) in new[] { ("before", "1"), ("during", "2"), ("after", "3") })
        {
            var got = await c.GetAsync(now.LeaderAddress, k);
            Assert.True(got.Found, $"{k} lost");
            Assert.Equal(v, got.Value.ToStringUtf8());
        }
    }

    [Fact]
    public async Task Leadership_moves_to_the_named_store_and_impossible_targets_are_refused()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAsync();
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        var before = await c.WaitForRangeLeaderAsync(1);
        var target = before.Leader.StoreId % 3 + 1;
        await using var client = KvClient.Connect(c.Addresses);
        await using var ops = RangeOperations.Connect(c.Addresses);

        // Leadership moves through a TransferLeader operation (the synchronous Admin.TransferLeader
        // RPC is gone); its step completes only once the target leads.
        var done = await ops.TransferLeadershipAsync(1, target);
        Assert.Equal(OperationStateView.Succeeded, done.State);
        // The target itself now serves linearizable reads: it really leads.
        var got = await c.GetAsync(c.Addresses[target - 1], "anything");
        Assert.Null(got.Error);

        // A store that cannot lead the range is refused at submit, and nothing is recorded. (The
        // old RPC said InvalidArgument "no replica on store 99"; the planner checks the store
        // first, so an unknown store is NotFound naming it.)
        var noReplica = await Assert.ThrowsAsync<KvAdminException>(() => ops.Admin.SubmitAsync(OperationRequest.TransferLeader(new RangeId(1), new StoreId(99))));
        Assert.Equal(PlacementErrorCode.PlacementErrorNotFound, noReplica.Code);
        Assert.Contains("store 99 is unknown", noReplica.ServerMessage, StringComparison.Ordinal);

        // A request fenced on an epoch the range is not at is refused (was: RangeError EpochNotMatch
        // from the RPC; now the planner's FAILED_PRECONDITION naming both epochs) and changes nothing.
        var stale = await Assert.ThrowsAsync<KvAdminException>(() => ops.Admin.SubmitAsync(
            OperationRequest.TransferLeader(new RangeId(1), new StoreId(before.Leader.StoreId)) with { Epoch = new EpochView(9, 9) }));
        Assert.Equal(PlacementErrorCode.PlacementErrorFailedPrecondition, stale.Code);
        Assert.Contains("as the request saw", stale.ServerMessage, StringComparison.Ordinal);
        Assert.Null((await c.GetAsync(c.Addresses[target - 1], "anything")).Error);
        Assert.Single(await ops.ListOwnAsync()); // only the transfer above was recorded

        await client.PutAsync("after-transfer"u8.ToArray(), "1"u8.ToArray());
        Assert.Equal("1"u8.ToArray(), await client.GetAsync("after-transfer"u8.ToArray()));
    }

    [Fact]
    public async Task Bad_requests_are_refused_and_change_nothing()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAsync();
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        var leader = await c.WaitForRangeLeaderAsync(1);
        var ch = c.Channel(leader.LeaderAddress);

        var tooBig = await Assert.ThrowsAsync<RpcException>(() => ch.RawKv.PutAsync(new RawPutRequest
        {
            Context = new RangeContext { RangeId = 1, Epoch = leader.Range.Epoch },
            Key = ByteString.CopyFrom(new byte[5000]),
            Value = ByteString.CopyFromUtf8("x"),
        }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, tooBig.StatusCode);
        Assert.Contains("4096", tooBig.Status.Detail, StringComparison.Ordinal);

        var noRange = await ch.RawKv.PutAsync(new RawPutRequest
        {
            Context = new RangeContext { RangeId = 99, Epoch = leader.Range.Epoch },
            Key = ByteString.CopyFromUtf8("a"),
        });
        Assert.Equal(99ul, noRange.Error.RangeNotFound.RangeId);

        var stale = await ch.RawKv.PutAsync(new RawPutRequest
        {
            Context = new RangeContext { RangeId = 1, Epoch = new RangeEpoch { ConfVer = 1, Version = 0 } },
            Key = ByteString.CopyFromUtf8("stale"),
            Value = ByteString.CopyFromUtf8("x"),
        });
        Assert.NotNull(stale.Error.EpochNotMatch);
        Assert.Equal(1ul, stale.Error.EpochNotMatch.Current.Single().RangeId);

        var got = await c.GetAsync(leader.LeaderAddress, "stale");
        Assert.False(got.Found);
    }
}

/// <summary>A node that is not a placement member joins a running cluster.</summary>
[Collection(InProcessClusterCollection.Name)]
public sealed class JoinTests
{
    [Fact]
    public async Task A_fourth_node_gets_a_store_id_from_placement_and_registers()
    {
        await using var c = new InProcessCluster(4, placementMembers: 3);
        // Members first; the fourth waits for a bootstrapped cluster to hand it a store id.
        await Task.WhenAll(Enumerable.Range(0, 3).Select(c.StartNodeAsync));
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.StartNodeAsync(3);
        Assert.True(c.Hosts[3]!.StoreId >= 1000, $"store id {c.Hosts[3]!.StoreId} should come from the id sequence (floor 1000)");

        var deadline = DateTime.UtcNow.AddSeconds(40);
        while (true)
        {
            var stores = await c.PlacementAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest { Header = new() }, r => r.Header);
            var joined = stores.Stores.FirstOrDefault(s => s.Store.StoreId == c.Hosts[3]!.StoreId);
            if (joined is { State: StoreState.Up } && stores.Stores.Count == 4 && stores.Stores.All(s => s.State == StoreState.Up))
            {
                Assert.Equal(c.Addresses[3], joined.Store.Address);
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the four stores never all showed up as Up: {stores.Stores}");
            await Task.Delay(50);
        }

        // Its restart keeps the same identity.
        var id = c.Hosts[3]!.StoreId;
        await c.StopNodeAsync(3);
        await c.StartNodeAsync(3);
        Assert.Equal(id, c.Hosts[3]!.StoreId);
    }
}
