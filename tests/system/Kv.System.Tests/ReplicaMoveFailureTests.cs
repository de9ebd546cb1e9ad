using System.Diagnostics;
using System.Globalization;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Views;
using Kv.Proto.V1;
using Kv.System.Tests.Cluster;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// A replica move on real kv-node processes whose range leader is killed with kill -9 in the
/// middle of the move: the range stays available, and the move completes (continued on the new
/// leader) with every acknowledged write readable.
/// </summary>
public sealed class ReplicaMoveFailureTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan Resume = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_move_whose_leader_is_killed_midway_completes_on_the_new_leader_and_the_range_stays_available()
    {
        await using var cluster = new TestCluster(output, nodes: 4);
        var members = string.Join(',', Enumerable.Range(1, 3).Select(cluster.AddressOf));
        for (var n = 1; n <= 3; n++)
        {
            cluster.Start(n, join: members); // nodes 1-3 are placement members
        }

        await cluster.WaitReadyAsync(Ready, expectedStoresUp: 3);
        cluster.Start(4, join: members); // a plain store: it gets its id from the bootstrapped cluster
        await cluster.WaitReadyAsync(Ready, expectedStoresUp: 4);
        using var probe = cluster.Probe();
        var deadline = DateTime.UtcNow + Ready;
        var stores = await probe.PlacementAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest(), r => r.Header, deadline);
        var target = stores.Stores.Single(s => s.Store.Address == cluster.AddressOf(4)).Store.StoreId;

        // 1. Writes go on all along.
        await using var load = WriteLoad.Start(cluster, writers: 2);
        await load.WaitForMoreAcksAsync(20, Ready, "at the start");

        // 2. Freeze the target (SIGSTOP) so the move is sure to stop halfway: its learner is
        //    added but cannot catch up. Move a follower's replica there.
        var leader = await cluster.RangeLeaderNodeAsync(probe, Resume);
        var source = Enumerable.Range(1, 3).First(n => n != leader);
        Signal("STOP", cluster.Node(4)!.Pid);
        await using var client = cluster.Client(Resume);
        await using var admin = cluster.Admin(Resume);
        var move = OperationRequest.MoveReplica(new RangeId(1), new StoreId((ulong)source), new StoreId(target)).WithNewId();
        var submitted = await admin.SubmitAsync(move);
        output.WriteLine($"submitted move operation {submitted.Operation.Id}: {submitted.Operation.Plan.Steps.Count} step(s)");
        await Eventually.TrueAsync(async () =>
        {
            var range = await probe.RangeAsync(ReadOnlyMemory<byte>.Empty, DateTime.UtcNow + Resume);
            return (range.Range.Replicas.Any(r => r.StoreId == target && r.Role == ReplicaRole.Learner), $"no learner on store {target} yet: {range.Range}");
        }, DateTime.UtcNow + Resume);

        // 3. kill -9 the leader mid-move, then let the target go on.
        await cluster.KillAsync(leader);
        Signal("CONT", cluster.Node(4)!.Pid);
        await load.WaitForMoreAcksAsync(20, Resume, $"after leader node {leader} was killed mid-move");

        // 4. The operation goes on: placement's executor drives the step again on the range's new
        //    leader (which continues with the learner already there), and a new placement leader
        //    resumes it if the killed node led placement. The watch follows it across that failover.
        using var patience = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var final = await admin.WaitAsync(move.Id!.Value, cancellationToken: patience.Token);
        output.WriteLine($"the move operation ended {final.State} after {final.Replans} replan(s): {final.Failure}");
        Assert.Equal(OperationStateView.Succeeded, final.State);
        var moved = (await client.GetRangeAsync(1))!.Range;

        output.WriteLine($"after the move: {moved}");
        Assert.Equal(3, moved.Replicas.Count);
        Assert.All(moved.Replicas, r => Assert.Equal(ReplicaRole.Voter, r.Role));
        Assert.Contains(moved.Replicas, r => r.StoreId == target);
        Assert.DoesNotContain(moved.Replicas, r => r.StoreId == (ulong)source);

        // 5. Still available with the dead leader's store down; then everything acknowledged is readable.
        await load.WaitForMoreAcksAsync(20, Resume, "after the move");
        await load.StopAsync();
        cluster.Start(leader, join: members);
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
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{load.AckedCount} writes acknowledged, {load.UnknownCount} with unknown outcome"));
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }
}
