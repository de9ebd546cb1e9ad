using System.Globalization;
using System.Text.Json;
using Kv.Client.Views;
using Kv.System.Tests.Cluster;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// Operations on real processes under load and under kill -9 of the placement leader (issue 13,
/// Deliver 11): four kv-node processes (nodes 1-3 are the placement members), the real kvctl for
/// every action, kv-workload bank processes for load, SIGKILL for the faults.
/// 1. A drain under a bank workload empties the store (zero replicas, zero leaders, Drained),
///    the bank checker finds zero violations and transfers were acknowledged during the drain.
/// 2. The placement leader is killed while a replica move runs: the new leader resumes it to
///    Succeeded, the range ends with the planned replicas, every key written before is readable.
/// 3. The same with a drain.
/// The in-process versions are in tests/Kv.Node.Tests/Cluster/OperationsClusterTests.cs.
/// </summary>
public sealed class OperationFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan OperationDeadline = TimeSpan.FromSeconds(120);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_drain_under_a_bank_workload_empties_the_store_with_no_violations_and_transfers_go_on(bool drainPlacementLeadersStore)
    {
        await using var cluster = await OperationsCluster.StartAsync(output);
        const string id = "sys-drain-under-load";
        try
        {
            // 1. Four ranges over the bank's accounts (bank/acct/0000..0007), spread over the four
            //    stores: two of them get a replica on store 4, so the drain moves replicas to
            //    different targets. Then the scheduler runs again, as it would in production.
            foreach (var key in new[] { "bank/acct/0002", "bank/acct/0004", "bank/acct/0006" })
            {
                cluster.MustKvctl("range", "split", "--key", key);
            }

            var leader = cluster.PlacementLeaderByKvctl();
            var drained = drainPlacementLeadersStore ? leader : Enumerable.Range(1, 3).First(n => n != leader);
            var others = Enumerable.Range(1, 3).Where(n => n != drained).ToList();
            var store = cluster.StoreOf[drained];
            var ranges = cluster.Ranges().Select(r => r.GetProperty("id").GetUInt64()).Order().ToList();
            Assert.Equal(4, ranges.Count);
            cluster.MustKvctl("replica", "move", "--range", Text(ranges[1]), "--from", Text(cluster.StoreOf[others[0]]), "--to", Text(cluster.Store4));
            cluster.MustKvctl("replica", "move", "--range", Text(ranges[3]), "--from", Text(cluster.StoreOf[others[1]]), "--to", Text(cluster.Store4));
            var onStore = cluster.Ranges().Count(r => OperationsCluster.ReplicaStores(r).Contains(store));
            Assert.True(onStore == 4, $"store {store} should hold a replica of each of the 4 ranges before its drain, holds {onStore}");
            cluster.MustKvctl("scheduler", "resume");
            output.WriteLine($"placement leader node {leader}; draining store {store} (node {drained})");

            // 2. The bank workload runs throughout; the drain starts once it has made progress.
            await using var bank = BankWorkloads.Start(output, cluster.Nodes, processes: 2, durationSeconds: 45);
            await bank.WaitEachOkAsync(10, OperationsCluster.Ready);

            var drain = cluster.Kvctl("store", "drain", Text(store), "--id", id, "--reason", "system test: drain under load", "-o", "json");
            Assert.True(drain.Code == 0, $"drain exited {drain.Code}: {drain.Stderr}");
            DateTimeOffset started, finished;
            using (var doc = JsonDocument.Parse(drain.Stdout))
            {
                Assert.Equal("succeeded", doc.RootElement.GetProperty("state").GetString());
                started = doc.RootElement.GetProperty("started").GetDateTimeOffset();
                finished = doc.RootElement.GetProperty("finished").GetDateTimeOffset();
            }

            output.WriteLine($"drain ran {(finished - started).TotalSeconds:F1} s");

            // 3. The store ends empty: no replica, no leader, Drained.
            await cluster.WaitStoreEmptyAndDrainedAsync(store, TimeSpan.FromSeconds(60));

            // 4. The workloads end by themselves; zero violations, and transfers were acknowledged during the drain.
            await bank.WaitExitAsync(TimeSpan.FromSeconds(120));
            var result = bank.Check(out var ops);
            Assert.True(result.Valid, $"bank: {result.Violations.Count} violation(s):\n{string.Join("\n", result.Violations)}");
            var during = BankWorkloads.OkTransfersCompletedBetween(ops, started, finished);
            output.WriteLine($"{during} transfers acknowledged during the drain ({started:HH:mm:ss.fff} to {finished:HH:mm:ss.fff})");
            Assert.True(during > 0, $"no transfer was acknowledged during the drain ({started:O} to {finished:O}): the workload stalled");
        }
        catch
        {
            cluster.Diagnose(id);
            throw;
        }
    }

    [Fact]
    public async Task Killing_the_placement_leader_during_a_replica_move_resumes_the_move_on_the_new_leader()
    {
        await using var cluster = await OperationsCluster.StartAsync(output);
        const string id = "sys-move-failover";
        try
        {
            // 1. Data in range 1 (on stores 1-3), so the move's snapshot and catch-up take a moment.
            var data = await cluster.WriteDataAsync("move", count: 1000, valueBytes: 4096);
            var leader = cluster.PlacementLeaderByKvctl();
            var source = cluster.StoreOf[Enumerable.Range(1, 3).First(n => n != leader)];
            var planned = new[] { 1UL, 2UL, 3UL }.Where(s => s != source).Append(cluster.Store4).Order().ToList();

            // 2. Move a replica off a store that is not the placement leader's; kill -9 the placement leader while it runs.
            var submitted = cluster.MustKvctl("replica", "move", "--range", "1", "--from", Text(source), "--to", Text(cluster.Store4), "--id", id, "--no-wait");
            Assert.Equal(id, submitted.Trim());
            await KillPlacementLeaderWhileRunningAsync(cluster, id, stepsDone: 0);

            // 3. The new leader resumes it to the end.
            var done = await cluster.WaitOperationAsync(id, o => o.IsFinished, "finished", OperationDeadline);
            Assert.True(done.State == OperationStateView.Succeeded, $"the move ended {done.State}: {done.Failure}");

            // 4. The range has the planned replicas, all voters; nothing written before is lost.
            var range = cluster.Ranges().Single(r => r.GetProperty("id").GetUInt64() == 1);
            Assert.Equal(planned, OperationsCluster.ReplicaStores(range).Order().ToList());
            Assert.All(range.GetProperty("replicas").EnumerateArray(), r => Assert.Equal("voter", r.GetProperty("role").GetString()));
            await cluster.AssertAllReadableAsync(data);
        }
        catch
        {
            cluster.Diagnose(id);
            throw;
        }
    }

    [Fact]
    public async Task Killing_the_placement_leader_during_a_drain_resumes_the_drain_on_the_new_leader()
    {
        await using var cluster = await OperationsCluster.StartAsync(output);
        const string id = "sys-drain-failover";
        try
        {
            // 1. Four ranges with data, all on stores 1-3.
            foreach (var key in new[] { "drain/0250", "drain/0500", "drain/0750" })
            {
                cluster.MustKvctl("range", "split", "--key", key);
            }

            var data = await cluster.WriteDataAsync("drain", count: 1000, valueBytes: 2048);
            var leader = cluster.PlacementLeaderByKvctl();
            var drained = Enumerable.Range(1, 3).First(n => n != leader);
            var store = cluster.StoreOf[drained];

            // 2. Drain a store that is not the placement leader's; kill -9 the placement leader once a step is done.
            var submitted = cluster.MustKvctl("store", "drain", Text(store), "--id", id, "--reason", "system test: drain across a failover", "--no-wait");
            Assert.Equal(id, submitted.Trim());
            await KillPlacementLeaderWhileRunningAsync(cluster, id, stepsDone: 1);

            // 3. The new leader resumes it to the end; the store ends empty and Drained.
            var done = await cluster.WaitOperationAsync(id, o => o.IsFinished, "finished", OperationDeadline);
            Assert.True(done.State == OperationStateView.Succeeded, $"the drain ended {done.State}: {done.Failure}");
            await cluster.WaitStoreEmptyAndDrainedAsync(store, TimeSpan.FromSeconds(60));

            // 4. Every range still has three voters; nothing written before is lost.
            Assert.All(cluster.Ranges(), r => Assert.Equal(3, r.GetProperty("replicas").EnumerateArray().Count(x => x.GetProperty("role").GetString() == "voter")));
            await cluster.AssertAllReadableAsync(data);
        }
        catch
        {
            cluster.Diagnose(id);
            throw;
        }
    }

    /// <summary>
    /// Waits until the operation runs with at least <paramref name="stepsDone"/> steps done, then
    /// kill -9 of the placement leader's process; waits for a new leader and restarts the killed
    /// node on its data directory (with its store down, the preflight would rightly hold back any
    /// step that removes a voter of a range it holds). Fails if the operation finished first: then
    /// the kill would prove nothing. The leader is asked again just before the kill (it is usually
    /// the one the test chose its stores by, but a loaded machine may have moved it).
    /// </summary>
    private async Task KillPlacementLeaderWhileRunningAsync(OperationsCluster cluster, string id, uint stepsDone)
    {
        var running = await cluster.WaitOperationAsync(id, o => o.IsFinished || (o.State == OperationStateView.Running && o.CurrentStep >= stepsDone), "running", OperationDeadline);
        Assert.False(running.IsFinished, $"operation {id} was {running.State} before the placement leader could be killed; give it more data to move");
        var leader = await cluster.Nodes.PlacementLeaderNodeAsync(cluster.Probe, OperationsCluster.Ready);
        output.WriteLine($"operation {id} is running, step {running.CurrentStep} of {running.StepCount}; killing placement leader node {leader}");
        await cluster.Nodes.KillAsync(leader);
        var next = await cluster.WaitNewPlacementLeaderAsync(leader, OperationsCluster.Ready);
        output.WriteLine($"node {next} leads placement now; restarting node {leader}");
        cluster.StartNode(leader);
    }

    private static string Text(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Text(int v) => v.ToString(CultureInfo.InvariantCulture);
}
