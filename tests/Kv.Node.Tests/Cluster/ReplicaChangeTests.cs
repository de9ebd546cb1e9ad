using Google.Protobuf;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Views;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Cluster;

/// <summary>
/// Replica removal, refusals and stale-replica cleanup on real in-process nodes (no snapshot
/// needed: nothing here creates a replica on a new store).
/// </summary>
[Collection(InProcessClusterCollection.Name)]
public sealed class ReplicaChangeTests
{
    internal static async Task WaitForAsync(Func<bool> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    internal static RangeDescriptor? DescriptorOn(InProcessCluster c, int node) => c.Hosts[node]?.Ranges.Get(1)?.Descriptor;

    internal static bool HasData(InProcessCluster c, int node, string key) =>
        c.Hosts[node]!.Store!.Engine.Get(ColumnFamily.Default, Keys.Data(System.Text.Encoding.UTF8.GetBytes(key))) is not null;

    private static int NodeOf(ulong storeId) => (int)storeId - 1;

    [Fact]
    public async Task A_follower_then_the_leaders_own_replica_are_removed_and_the_last_voter_is_kept()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAsync();
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        var leader = (await c.WaitForRangeLeaderAsync(1)).Leader.StoreId;
        await using var client = KvClient.Connect(c.Addresses);
        await client.PutAsync("k"u8.ToArray(), "v"u8.ToArray());
        await WaitForAsync(() => Enumerable.Range(0, 3).All(i => HasData(c, i, "k")), "k on every store");

        // 1. A follower: the descriptor drops it (conf_ver 2) and its store destroys its replica and data.
        //    Replica changes are operations now (the synchronous Admin RPCs are gone), so taking a
        //    three-voter range to two meets the preflight: refused unless forced with a reason.
        await using var ops = RangeOperations.Connect(c.Addresses);
        var follower = leader % 3 + 1;
        var unsafeRemove = await Assert.ThrowsAsync<KvAdminException>(() => ops.Admin.SubmitAsync(OperationRequest.RemoveReplica(new RangeId(1), new StoreId(follower))));
        Assert.Equal(PlacementErrorCode.PlacementErrorFailedPrecondition, unsafeRemove.Code);
        Assert.Empty(await ops.ListOwnAsync());
        var after = await ops.RemoveAsync(1, follower, forceReason: "test: remove a follower of a three-voter range");
        Assert.Equal(2ul, after.Epoch.ConfVer);
        Assert.DoesNotContain(after.Replicas, r => r.StoreId == follower);
        await WaitForAsync(() => c.Hosts[NodeOf(follower)]!.Ranges.Get(1) is null, $"store {follower} to destroy its removed replica");
        Assert.False(c.Hosts[NodeOf(follower)]!.Store!.GroupExists(1));
        Assert.False(HasData(c, NodeOf(follower), "k"));

        // 2. The leader's own replica: leadership moves to the other voter, which removes it.
        after = await ops.RemoveAsync(1, leader);
        var survivor = after.Replicas.Single();
        Assert.Equal(3ul, after.Epoch.ConfVer);
        Assert.NotEqual(leader, survivor.StoreId);
        await WaitForAsync(() => c.Hosts[NodeOf(leader)]!.Ranges.Get(1) is null, $"store {leader} to destroy its removed replica");
        Assert.Equal(after, DescriptorOn(c, NodeOf(survivor.StoreId)));
        Assert.Equal("v"u8.ToArray(), await client.GetAsync("k"u8.ToArray()));

        // 3. The last voter stays: refused at submit with the reason (was Refused "last voter" from
        //    the RPC; the planner calls it INVALID_ARGUMENT "the only voter"), nothing changes, writes go on.
        var last = await Assert.ThrowsAsync<KvAdminException>(() => ops.RemoveAsync(1, survivor.StoreId, forceReason: "test: even forced"));
        Assert.Equal(KvErrorKind.InvalidArgument, last.Kind);
        Assert.Contains("only voter", last.Message, StringComparison.Ordinal);
        Assert.Equal(after, DescriptorOn(c, NodeOf(survivor.StoreId)));
        await client.PutAsync("k2"u8.ToArray(), "v2"u8.ToArray());
        Assert.Equal("v2"u8.ToArray(), await client.GetAsync("k2"u8.ToArray()));
    }

    [Fact]
    public async Task Bad_targets_and_a_range_mid_change_are_refused_with_the_reason_and_change_nothing()
    {
        await using var c = new InProcessCluster(4, placementMembers: 3);
        await Task.WhenAll(Enumerable.Range(0, 3).Select(c.StartNodeAsync));
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.StartNodeAsync(3);
        var fourth = c.Hosts[3]!.StoreId;
        var info = await c.WaitForRangeLeaderAsync(1);
        var leaderNode = await LeaderNodeAsync(c);
        await using var client = KvClient.Connect(c.Addresses.Take(3).ToArray());
        await using var ops = RangeOperations.Connect(c.Addresses.Take(3).ToArray());
        var before = DescriptorOn(c, leaderNode)!;
        var range = new RangeId(1);
        static StoreId S(ulong id) => new(id);

        // Replica changes are operations now (the synchronous Admin RPCs are gone): a bad one is
        // refused at submit by the planner, and nothing is recorded. Malformed requests are
        // INVALID_ARGUMENT or NOT_FOUND (kvctl exit 2 / 4); well-formed ones the cluster's state
        // rules out are FAILED_PRECONDITION (kvctl exit 3).
        async Task RefusedAsync(OperationRequest request, string reason, PlacementErrorCode code)
        {
            var e = await Assert.ThrowsAsync<KvAdminException>(() => ops.Admin.SubmitAsync(request));
            Assert.Equal(code, e.Code);
            Assert.Contains(reason, e.ServerMessage, StringComparison.Ordinal);
        }

        // A store that already holds a replica; an unknown store; a move onto itself (the client
        // refuses it before any call); a move from a store without a replica.
        await RefusedAsync(OperationRequest.AddReplica(range, S(info.Leader.StoreId % 3 + 1)), "already holds a voter", PlacementErrorCode.PlacementErrorInvalidArgument);
        await RefusedAsync(OperationRequest.AddReplica(range, S(4242)), "store 4242 is unknown", PlacementErrorCode.PlacementErrorNotFound);
        var self = await Assert.ThrowsAsync<ArgumentException>(() => ops.Admin.SubmitAsync(OperationRequest.MoveReplica(range, S(2), S(2))));
        Assert.Contains("same store", self.Message, StringComparison.Ordinal);
        await RefusedAsync(OperationRequest.MoveReplica(range, S(fourth), S(4244)), $"store {fourth} holds no replica", PlacementErrorCode.PlacementErrorInvalidArgument);

        // A move whose source holds nothing and whose target already holds a voter is the state a
        // finished move leaves. The old RPC answered it with the range as it is; an operation is
        // resumed by resubmitting its id instead, so a new move from a store that holds nothing is
        // refused "nothing to move". Either way nothing changes.
        await RefusedAsync(OperationRequest.MoveReplica(range, S(fourth), S(1)), "nothing to move", PlacementErrorCode.PlacementErrorInvalidArgument);
        await RefusedAsync(OperationRequest.RemoveReplica(range, S(fourth)), $"store {fourth} holds no replica", PlacementErrorCode.PlacementErrorInvalidArgument);

        // A Down store: neither added to nor moved to.
        await c.StopNodeAsync(3);
        await WaitForDownAsync(c, fourth);
        await RefusedAsync(OperationRequest.AddReplica(range, S(fourth)), $"store {fourth} is down", PlacementErrorCode.PlacementErrorFailedPrecondition);
        await RefusedAsync(OperationRequest.MoveReplica(range, S(1), S(fourth)), $"store {fourth} is down", PlacementErrorCode.PlacementErrorFailedPrecondition);
        Assert.Equal(before, DescriptorOn(c, leaderNode));

        // A stale epoch is fenced (was RangeError EpochNotMatch from the RPC; now the planner's
        // FAILED_PRECONDITION naming both epochs).
        await RefusedAsync(OperationRequest.RemoveReplica(range, S(1)) with { Epoch = new EpochView(9, 1), Force = true, Reason = "test: fenced" },
            "as the request saw", PlacementErrorCode.PlacementErrorFailedPrecondition);
        Assert.Equal(before, DescriptorOn(c, leaderNode));
        Assert.Empty(await ops.ListOwnAsync());

        // Mid-change: a learner (on the Down store, so it stays one) is present.
        leaderNode = await LeaderNodeAsync(c);
        var store = c.Hosts[leaderNode]!.Store!;
        await store.ProposeConfChangeAsync(1, ConfChange.Single(ConfChangeType.AddLearnerNode, 777) with
        {
            Context = new ReplicaChange { ExpectedConfVer = 1, Replicas = { new ReplicaDescriptor { ReplicaId = 777, StoreId = fourth, Role = ReplicaRole.Learner } } }.ToByteArray(),
        }).WaitAsync(TimeSpan.FromSeconds(20));
        var mid = DescriptorOn(c, leaderNode)!;
        Assert.Equal(2ul, mid.Epoch.ConfVer);
        await WaitForDirectoryAsync(c, 2);

        // A removal planned now cannot progress: the operation says the range is stuck mid-change
        // (the RPC refused it FAILED_PRECONDITION "mid-change"), and cancelling it changes nothing.
        var follower = info.Leader.StoreId % 3 + 1;
        var stuck = (await ops.Admin.SubmitAsync(OperationRequest.RemoveReplica(range, S(follower)) with { Force = true, Reason = "test: mid-change" })).Operation.Id;
        await WaitForStuckAsync(ops.Admin, stuck, "mid-change: replica 777 on store " + fourth + " is a learner");
        await ops.Admin.CancelAsync(stuck, "test: it cannot progress");
        Assert.Equal(OperationStateView.Cancelled, (await ops.Admin.WaitAsync(stuck)).State);
        await RefusedAsync(OperationRequest.MoveReplica(range, S(1), S(2)), "already holds a replica", PlacementErrorCode.PlacementErrorFailedPrecondition);
        Assert.Equal(mid, DescriptorOn(c, await LeaderNodeAsync(c)));

        // Removing the learner rolls the change back.
        var rolledBack = await ops.RemoveAsync(1, fourth, patience: TimeSpan.FromSeconds(60));
        Assert.Equal(3ul, rolledBack.Epoch.ConfVer);
        Assert.Equal(before.Replicas, rolledBack.Replicas);
        await client.PutAsync("still"u8.ToArray(), "writable"u8.ToArray());
    }

    /// <summary>Waits until the operation reports a stuck range whose reason contains <paramref name="reason"/>.</summary>
    private static async Task WaitForStuckAsync(KvAdminClient admin, OperationId id, string reason)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var op = await admin.GetAsync(id);
            if (op.Stuck.Any(s => s.Reason.Contains(reason, StringComparison.Ordinal)))
            {
                return;
            }

            Assert.False(op.IsFinished, $"operation {id} finished ({op.State}: {op.Failure}) instead of waiting stuck on '{reason}'");
            Assert.True(DateTime.UtcNow < deadline, $"operation {id} never reported '{reason}'; stuck: {string.Join("; ", op.Stuck.Select(s => s.Reason))}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_stale_replica_of_a_store_removed_while_down_is_destroyed_when_it_returns()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAsync();
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await using var client = KvClient.Connect(c.Addresses);
        await client.PutAsync("k"u8.ToArray(), "v"u8.ToArray());
        await WaitForAsync(() => Enumerable.Range(0, 3).All(i => HasData(c, i, "k")), "k on every store");

        // 1. Store 3 goes down; its replica is removed meanwhile (2 of 3 voters commit it).
        var leader = (await c.WaitForRangeLeaderAsync(1)).Leader.StoreId;
        var victim = leader == 3 ? 2ul : 3ul;
        await c.StopNodeAsync(NodeOf(victim));
        // Forced: until placement marks the store Down, the preflight counts it as a live voter
        // and would refuse taking a three-voter range to two.
        await using var ops = RangeOperations.Connect(c.Addresses);
        var after = await ops.RemoveAsync(1, victim, forceReason: "test: remove the replica of a stopped store");
        Assert.DoesNotContain(after.Replicas, r => r.StoreId == victim);
        await WaitForDirectoryAsync(c, after.Epoch.ConfVer);

        // 2. It comes back with its old replica, which never applied its removal.
        await c.StartNodeAsync(NodeOf(victim));
        Assert.NotNull(c.Hosts[NodeOf(victim)]!.Ranges.Get(1));

        // 3. It is not trusted: placement's newer epoch without this store gets it destroyed.
        await WaitForAsync(() => c.Hosts[NodeOf(victim)]!.Ranges.Get(1) is null, $"store {victim} to destroy its stale replica", seconds: 60);
        Assert.False(c.Hosts[NodeOf(victim)]!.Store!.GroupExists(1));
        Assert.False(HasData(c, NodeOf(victim), "k"));
        Assert.Equal("v"u8.ToArray(), await client.GetAsync("k"u8.ToArray()));
    }

    /// <summary>The node whose replica of range 1 leads right now (asked of the stores themselves, not placement).</summary>
    internal static async Task<int> LeaderNodeAsync(InProcessCluster c)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            for (var i = 0; i < c.Hosts.Length; i++)
            {
                if (c.Hosts[i]?.Store is { } s && (await s.StatusAsync()).Any(g => g.GroupId == 1 && g.IsLeader))
                {
                    return i;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, "range 1 has no leader");
            await Task.Delay(20);
        }
    }

    internal static async Task WaitForDirectoryAsync(InProcessCluster c, ulong confVer)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await c.PlacementAsync(static (s, r, o) => s.Placement.GetRangeByIdAsync(r, o), new GetRangeByIdRequest { Header = new(), RangeId = 1 }, r => r.Header)).Range.Range.Epoch.ConfVer < confVer)
        {
            Assert.True(DateTime.UtcNow < deadline, $"placement never learned conf_ver {confVer}");
            await Task.Delay(50);
        }
    }

    internal static async Task WaitForDownAsync(InProcessCluster c, ulong storeId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(40);
        while (true)
        {
            var stores = await c.PlacementAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest { Header = new() }, r => r.Header);
            if (stores.Stores.FirstOrDefault(s => s.Store.StoreId == storeId) is { State: StoreState.Down })
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"store {storeId} never showed up as Down");
            await Task.Delay(50);
        }
    }
}
