using System.Diagnostics;
using System.Globalization;
using System.Text;
using Google.Protobuf;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Views;
using Kv.Node.Raft;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;
using Xunit.Abstractions;

namespace Kv.Node.Tests.Cluster;

/// <summary>
/// Adding and moving replicas onto a fourth store, which needs a snapshot: learner, catch-up,
/// promotion (or the joint swap), with writes going on.
/// </summary>
[Collection(InProcessClusterCollection.Name)]
public sealed class ReplicaAddMoveTests(ITestOutputHelper output)
{
    /// <summary>
    /// Data loaded before the add, in MB: the 200 MB case (about 50 s on the loaded 2-core
    /// CI machine); KV_TEST_ADD_REPLICA_MB scales it (smaller while iterating, larger to measure).
    /// </summary>
    private static int LoadMegabytes =>
        int.TryParse(Environment.GetEnvironmentVariable("KV_TEST_ADD_REPLICA_MB"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var mb) && mb > 0 ? mb : 200;

    private static async Task<(InProcessCluster Cluster, ulong Fourth)> StartFourAsync()
    {
        var c = new InProcessCluster(4, placementMembers: 3);
        await Task.WhenAll(Enumerable.Range(0, 3).Select(c.StartNodeAsync));
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.StartNodeAsync(3);
        var fourth = c.Hosts[3]!.StoreId;
        var deadline = DateTime.UtcNow.AddSeconds(40);
        while ((await c.PlacementAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest { Header = new() }, r => r.Header)).Stores
            .FirstOrDefault(s => s.Store.StoreId == fourth) is not { State: StoreState.Up })
        {
            Assert.True(DateTime.UtcNow < deadline, $"store {fourth} never came up");
            await Task.Delay(50);
        }

        return (c, fourth);
    }

    private static byte[] Key(string k) => Encoding.UTF8.GetBytes(k);

    /// <summary>Writes keys until stopped; returns the ones acknowledged.</summary>
    private static async Task<List<string>> WriteUntilAsync(KvClient client, string prefix, CancellationToken stop)
    {
        var acked = new List<string>();
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var k = $"{prefix}-{i:D6}";
            try
            {
                await client.PutAsync(Key(k), Key(k), CancellationToken.None); // a write once started is finished: its outcome must be known
                acked.Add(k);
            }
            catch (KvException)
            {
                // Not acknowledged (an election, say): neither counted nor checked.
            }
        }

        return acked;
    }

    [Fact]
    public async Task A_replica_added_to_a_loaded_range_while_writes_go_on_gets_everything_and_can_lead()
    {
        var (c, fourth) = await StartFourAsync();
        await using var _ = c;
        await using var client = KvClient.Connect(c.Addresses.Take(3).ToArray(), new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(30) });

        // 1. Load the range: 256 KB values, eight writers.
        var value = new byte[256 << 10];
        Random.Shared.NextBytes(value);
        var count = LoadMegabytes * 4;
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (i, ct) => await client.PutAsync(Key($"load-{i:D5}"), value, ct));

        // 2. Add the replica while a writer keeps writing.
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() => WriteUntilAsync(client, "live", stop.Token));
        var started = Stopwatch.GetTimestamp();
        await using var ops = RangeOperations.Connect(c.Addresses.Take(3).ToArray());
        var range = await ops.AddAsync(1, fourth, patience: TimeSpan.FromMinutes(10));
        var took = Stopwatch.GetElapsedTime(started);
        await stop.CancelAsync();
        var acked = await writer;

        var added = Assert.Single(range.Replicas, r => r.StoreId == fourth);
        Assert.Equal(ReplicaRole.Voter, added.Role);
        Assert.Equal(4, range.Replicas.Count);
        Assert.Equal(3ul, range.Epoch.ConfVer); // learner, then promotion

        // 3. The new replica holds every loaded and acknowledged key (it catches up from the log after the snapshot).
        await ReplicaChangeTests.WaitForAsync(() => acked.All(k => ReplicaChangeTests.HasData(c, 3, k)), "the acknowledged writes on the new replica", seconds: 120);
        for (var i = 0; i < count; i++)
        {
            Assert.True(ReplicaChangeTests.HasData(c, 3, $"load-{i:D5}"), $"load-{i:D5} missing on the new replica");
        }

        Assert.Equal(range, ReplicaChangeTests.DescriptorOn(c, 3));

        // 4. It really is a voter with the data: it can lead and serve reads.
        await ops.TransferLeadershipAsync(1, fourth);
        Assert.Equal(3, await ReplicaChangeTests.LeaderNodeAsync(c)); // node 3 runs the fourth store
        Assert.Equal(value, await client.GetAsync(Key("load-00000")));
        if (acked.Count > 0)
        {
            Assert.Equal(Key(acked[^1]), await client.GetAsync(Key(acked[^1])));
        }

        var transfers = c.Hosts.Where(h => h?.Snapshots is not null).SelectMany(h => h!.Snapshots!.Transfers).ToList();
        Assert.NotEmpty(transfers);
        var bytes = transfers.Sum(t => (double)t.Bytes);
        var build = transfers.Sum(t => t.Build.TotalSeconds);
        var stream = transfers.Sum(t => t.Stream.TotalSeconds);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"loaded {LoadMegabytes} MB; snapshot {bytes / 1e6:0.0} MB: build {build:0.00} s + stream {stream:0.00} s = {bytes / 1e6 / (build + stream):0.0} MB/s end to end ({bytes / 1e6 / stream:0.0} MB/s streaming); add-replica call {took.TotalSeconds:0.0} s; {acked.Count} writes during the add"));
    }

    [Fact]
    public async Task The_leaders_replica_moves_to_a_new_store_and_a_half_done_move_is_continued()
    {
        var (c, fourth) = await StartFourAsync();
        await using var _ = c;
        await using var client = KvClient.Connect(c.Addresses.Take(3).ToArray(), new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(30) });
        for (var i = 0; i < 50; i++)
        {
            await client.PutAsync(Key($"k{i:D3}"), Key($"v{i}"));
        }

        // 1. The leader's own replica moves: leadership leaves it, the joint swap puts the
        //    new store in and the old one out, and the old store destroys its replica.
        var leader = (await c.WaitForRangeLeaderAsync(1)).Leader.StoreId;
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() => WriteUntilAsync(client, "live", stop.Token));
        await using var ops = RangeOperations.Connect(c.Addresses.Take(3).ToArray());
        var moved = await ops.MoveAsync(1, leader, fourth, patience: TimeSpan.FromMinutes(5));
        await stop.CancelAsync();
        var acked = await writer;
        Assert.Equal(3, moved.Replicas.Count);
        Assert.All(moved.Replicas, r => Assert.Equal(ReplicaRole.Voter, r.Role));
        Assert.Contains(moved.Replicas, r => r.StoreId == fourth);
        Assert.DoesNotContain(moved.Replicas, r => r.StoreId == leader);
        Assert.Equal(4ul, moved.Epoch.ConfVer); // learner, joint, leave joint
        await ReplicaChangeTests.WaitForAsync(() => c.Hosts[(int)leader - 1]!.Ranges.Get(1) is null, $"store {leader} to destroy its moved-away replica");
        Assert.False(ReplicaChangeTests.HasData(c, (int)leader - 1, "k000"));
        await ReplicaChangeTests.WaitForAsync(() => acked.All(k => ReplicaChangeTests.HasData(c, 3, k)), "the acknowledged writes on the new store");
        Assert.Equal(Key("v49"), await client.GetAsync(Key("k049")));

        // 2. A half-done move (a learner already on the target, as a leader that died after
        //    adding it leaves it) is continued with that learner, not a second one.
        var source = moved.Replicas.First(r => r.StoreId != fourth).StoreId;
        var target = leader; // its old store is free again
        var leaderHost = c.Hosts[await ReplicaChangeTests.LeaderNodeAsync(c)]!;
        await leaderHost.Store!.ProposeConfChangeAsync(1, ConfChange.Single(ConfChangeType.AddLearnerNode, 9001) with
        {
            Context = new ReplicaChange { ExpectedConfVer = 4, Replicas = { new ReplicaDescriptor { ReplicaId = 9001, StoreId = target, Role = ReplicaRole.Learner } } }.ToByteArray(),
        }).WaitAsync(TimeSpan.FromSeconds(20));
        var move = OperationRequest.MoveReplica(new RangeId(1), new StoreId(source), new StoreId(target)).WithNewId();
        await ops.RunAsync(move, TimeSpan.FromMinutes(5));
        var resumed = await ops.RangeAsync(1);
        Assert.Contains(resumed.Replicas, r => r.StoreId == target && r.ReplicaId == 9001 && r.Role == ReplicaRole.Voter);
        Assert.DoesNotContain(resumed.Replicas, r => r.StoreId == source);
        Assert.Equal(3, resumed.Replicas.Count);
        Assert.Equal(7ul, resumed.Epoch.ConfVer); // the learner, joint, leave joint

        // 3. Submitting the finished move again (its id: how an operation is retried after an
        //    unknown outcome) answers with its record and changes nothing. (The old RPC was
        //    retried by calling it again with the same stores.)
        var again = await ops.Admin.SubmitAsync(move);
        Assert.False(again.Created);
        Assert.Equal(OperationStateView.Succeeded, again.Operation.State);
        Assert.Equal(resumed, await ops.RangeAsync(1));
        Assert.Single(await ops.Admin.ListAsync(), o => o.Id == move.Id);
    }
}
