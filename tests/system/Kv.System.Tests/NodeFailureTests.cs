using System.Collections.Concurrent;
using Kv.System.Tests.Cluster;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// A 3-node cluster of real kv-node processes loses nodes to kill -9 while clients work:
/// acknowledged writes are never lost, writes resume after the election, restarted nodes
/// catch up, and the timestamp oracle stays strictly increasing across a placement failover.
/// </summary>
public sealed class NodeFailureTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Resume = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Writes_resume_after_kill_9_of_a_follower_and_of_the_leader_and_every_acknowledged_write_is_readable()
    {
        await using var cluster = new TestCluster(output);
        cluster.StartAll();
        await cluster.WaitReadyAsync(Ready);
        using var probe = cluster.Probe();

        // 1. A steady load of unique-key puts from several writers.
        await using var load = WriteLoad.Start(cluster, writers: 4);
        await load.WaitForMoreAcksAsync(40, Ready, "at the start");

        // 2. kill -9 a node that does not lead range 1: the other two still form a quorum.
        var leader = await cluster.RangeLeaderNodeAsync(probe, Resume);
        var follower = Enumerable.Range(1, cluster.Count).First(n => n != leader);
        await cluster.KillAsync(follower);
        await load.WaitForMoreAcksAsync(40, Resume, $"with follower node {follower} killed");
        cluster.Start(follower);
        await cluster.WaitReadyAsync(Ready);

        // 3. kill -9 the node leading range 1: writes stop until a new leader is elected, then resume.
        leader = await cluster.RangeLeaderNodeAsync(probe, Resume);
        await cluster.KillAsync(leader);
        await load.WaitForMoreAcksAsync(40, Resume, $"after leader node {leader} was killed");
        cluster.Start(leader);
        await cluster.WaitReadyAsync(Ready);
        await load.WaitForMoreAcksAsync(20, Resume, $"after node {leader} restarted");
        await load.StopAsync();
        output.WriteLine($"{load.AckedCount} writes acknowledged, {load.UnknownCount} with unknown outcome");

        // 4. The restarted nodes caught up: kill the one node never killed, so both restarted
        //    nodes are needed for a quorum, and read every acknowledged write through them.
        var untouched = Enumerable.Range(1, cluster.Count).Single(n => n != follower && n != leader);
        await cluster.KillAsync(untouched);
        await using var reader = cluster.Client(Ready);
        var missing = new List<string>();
        foreach (var key in load.Acked)
        {
            var value = await reader.GetAsync(WriteLoad.Key(key));
            if (value is null || !value.AsSpan().SequenceEqual(WriteLoad.ValueOf(key)))
            {
                missing.Add(key);
            }
        }

        Assert.True(missing.Count == 0, $"{missing.Count} of {load.AckedCount} acknowledged writes are missing or wrong, e.g. {string.Join(", ", missing.Take(5))}");
        Assert.True(load.AckedCount >= 140, $"only {load.AckedCount} writes were acknowledged");
    }

    [Fact]
    public async Task Timestamps_stay_strictly_increasing_and_unique_across_kill_9_of_the_placement_leader()
    {
        await using var cluster = new TestCluster(output);
        cluster.StartAll();
        await cluster.WaitReadyAsync(Ready);
        using var probe = cluster.Probe();

        // 1. Ten clients (ten KvClients) draw timestamps in a loop, each recording its sequence.
        const int Clients = 10;
        var sequences = Enumerable.Range(0, Clients).Select(_ => new ConcurrentQueue<ulong>()).ToArray();
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            await using var client = cluster.Client(Resume);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    sequences[c].Enqueue((await client.GetTimestampAsync(stop.Token)).Value);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
            }
        })).ToArray();

        async Task EveryClientDrawsAsync(int more, string when)
        {
            var targets = sequences.Select(s => s.Count + more).ToArray();
            await Eventually.TrueAsync(() =>
            {
                if (clients.FirstOrDefault(t => t.IsFaulted) is { } failed)
                {
                    throw new InvalidOperationException("a client failed", failed.Exception);
                }

                var behind = Enumerable.Range(0, Clients).Count(c => sequences[c].Count < targets[c]);
                return (behind == 0, $"{behind} of {Clients} clients did not get {more} more timestamps {when}");
            }, DateTime.UtcNow + Resume);
        }

        await EveryClientDrawsAsync(20, "at the start");

        // 2. kill -9 the placement leader (the TSO) while they draw.
        var placementLeader = await cluster.PlacementLeaderNodeAsync(probe, Resume);
        await cluster.KillAsync(placementLeader);
        await EveryClientDrawsAsync(20, $"after placement leader node {placementLeader} was killed");
        await stop.CancelAsync();
        await Task.WhenAll(clients);

        // 3. Per client strictly increasing; unique across all clients.
        var all = new HashSet<ulong>();
        for (var c = 0; c < Clients; c++)
        {
            var sequence = sequences[c].ToArray();
            for (var i = 1; i < sequence.Length; i++)
            {
                Assert.True(sequence[i] > sequence[i - 1], $"client {c}: timestamp {i} ({sequence[i]}) is not greater than the one before ({sequence[i - 1]})");
            }

            foreach (var ts in sequence)
            {
                Assert.True(all.Add(ts), $"timestamp {ts} was handed out twice");
            }
        }

        output.WriteLine($"{all.Count} timestamps from {Clients} clients");

        // 4. Routing recovers: a put and a get through a fresh client.
        await using var fresh = cluster.Client(Resume);
        await fresh.PutAsync(WriteLoad.Key("after-failover"), WriteLoad.Key("yes"));
        Assert.Equal(WriteLoad.Key("yes"), await fresh.GetAsync(WriteLoad.Key("after-failover")));
    }
}
