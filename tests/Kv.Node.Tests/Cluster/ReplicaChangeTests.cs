using Google.Protobuf;
using Kv.Client.Cluster;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Storage;
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
        var follower = leader % 3 + 1;
        var after = await client.RemoveReplicaAsync(1, follower);
        Assert.Equal(2ul, after.Epoch.ConfVer);
        Assert.DoesNotContain(after.Replicas, r => r.StoreId == follower);
        await WaitForAsync(() => c.Hosts[NodeOf(follower)]!.Ranges.Get(1) is null, $"store {follower} to destroy its removed replica");
        Assert.False(c.Hosts[NodeOf(follower)]!.Store!.GroupExists(1));
        Assert.False(HasData(c, NodeOf(follower), "k"));

        // 2. The leader's own replica: leadership moves to the other voter, which removes it.
        after = await client.RemoveReplicaAsync(1, leader);
        var survivor = after.Replicas.Single();
        Assert.Equal(3ul, after.Epoch.ConfVer);
        Assert.NotEqual(leader, survivor.StoreId);
        await WaitForAsync(() => c.Hosts[NodeOf(leader)]!.Ranges.Get(1) is null, $"store {leader} to destroy its removed replica");
        Assert.Equal(after, DescriptorOn(c, NodeOf(survivor.StoreId)));
        Assert.Equal("v"u8.ToArray(), await client.GetAsync("k"u8.ToArray()));

        // 3. The last voter stays: refused with the reason, nothing changes, writes go on.
        var last = await Assert.ThrowsAsync<KvException>(() => client.RemoveReplicaAsync(1, survivor.StoreId));
        Assert.Equal(KvErrorKind.Refused, last.Kind);
        Assert.Contains("last voter", last.Message, StringComparison.Ordinal);
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
        var before = DescriptorOn(c, leaderNode)!;

        // Malformed requests are InvalidArgument (kvctl exit 2); well-formed ones the cluster's
        // state makes unsafe are Refused (FAILED_PRECONDITION, kvctl exit 3).
        async Task RefusedAsync(Func<Task> call, string reason, KvErrorKind kind = KvErrorKind.Refused)
        {
            var e = await Assert.ThrowsAsync<KvException>(call);
            Assert.Equal(kind, e.Kind);
            Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        }

        // A store that already holds a replica; an unknown store; a move onto itself; a move from
        // a store without a replica.
        await RefusedAsync(() => client.AddReplicaAsync(1, info.Leader.StoreId % 3 + 1, TimeSpan.FromSeconds(20)), "already holds replica");
        await RefusedAsync(() => client.AddReplicaAsync(1, 4242, TimeSpan.FromSeconds(20)), "store 4242 is not known to placement");
        await RefusedAsync(() => client.MoveReplicaAsync(1, 2, 2, TimeSpan.FromSeconds(20)), "two different stores", KvErrorKind.InvalidArgument);
        await RefusedAsync(() => client.MoveReplicaAsync(1, fourth, 4244, TimeSpan.FromSeconds(20)), $"no replica on store {fourth}", KvErrorKind.InvalidArgument);

        // A move whose source holds nothing and whose target already holds a voter is the state a
        // finished move leaves: it is answered with the range as it is, and changes nothing.
        Assert.Equal(before, await client.MoveReplicaAsync(1, fourth, 1, TimeSpan.FromSeconds(20)));
        await RefusedAsync(() => client.RemoveReplicaAsync(1, fourth, TimeSpan.FromSeconds(20)), $"no replica on store {fourth}", KvErrorKind.InvalidArgument);

        // A Down store: neither added to nor moved to.
        await c.StopNodeAsync(3);
        await WaitForDownAsync(c, fourth);
        await RefusedAsync(() => client.AddReplicaAsync(1, fourth, TimeSpan.FromSeconds(20)), $"store {fourth} is Down");
        await RefusedAsync(() => client.MoveReplicaAsync(1, 1, fourth, TimeSpan.FromSeconds(20)), $"store {fourth} is Down");
        Assert.Equal(before, DescriptorOn(c, leaderNode));

        // A stale epoch is fenced (by whichever node leads now).
        leaderNode = await LeaderNodeAsync(c);
        var stale = await c.Channel(c.Addresses[leaderNode]).Admin.RemoveReplicaAsync(new RemoveReplicaRequest
        {
            Context = new RangeContext { RangeId = 1, Epoch = new RangeEpoch { ConfVer = 9, Version = 1 } },
            StoreId = 1,
        });
        Assert.NotNull(stale.Error?.EpochNotMatch);
        Assert.Equal(before, DescriptorOn(c, leaderNode));

        // Mid-change: a learner (on a store that never answers, so it stays one) is present.
        leaderNode = await LeaderNodeAsync(c);
        var store = c.Hosts[leaderNode]!.Store!;
        await store.ProposeConfChangeAsync(1, ConfChange.Single(ConfChangeType.AddLearnerNode, 777) with
        {
            Context = new ReplicaChange { ExpectedConfVer = 1, Replicas = { new ReplicaDescriptor { ReplicaId = 777, StoreId = 4243, Role = ReplicaRole.Learner } } }.ToByteArray(),
        }).WaitAsync(TimeSpan.FromSeconds(20));
        var mid = DescriptorOn(c, leaderNode)!;
        Assert.Equal(2ul, mid.Epoch.ConfVer);
        await RefusedAsync(() => client.RemoveReplicaAsync(1, info.Leader.StoreId % 3 + 1, TimeSpan.FromSeconds(20)), "mid-change: replica 777 on store 4243 is a learner");
        await RefusedAsync(() => client.MoveReplicaAsync(1, 1, 2, TimeSpan.FromSeconds(20)), "already holds replica");
        await RefusedAsync(() => client.MoveReplicaAsync(1, info.Leader.StoreId % 3 + 1, 4244, TimeSpan.FromSeconds(20)), "mid-change");
        Assert.Equal(mid, DescriptorOn(c, leaderNode));

        // Removing the learner rolls the change back.
        var rolledBack = await client.RemoveReplicaAsync(1, 4243, TimeSpan.FromSeconds(20));
        Assert.Equal(3ul, rolledBack.Epoch.ConfVer);
        Assert.Equal(before.Replicas, rolledBack.Replicas);
        await client.PutAsync("still"u8.ToArray(), "writable"u8.ToArray());
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
        var after = await client.RemoveReplicaAsync(1, victim);
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
