using Kv.Client.Cluster;
using Kv.Node.Tests.Observability;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Cluster;

/// <summary>
/// Raft section 7 (log compaction): "the leader must occasionally send snapshots to followers
/// that lag behind" because it "has already discarded the next log entry that it needs to send".
/// Three in-process nodes with a small compaction threshold; one follower is stopped while the
/// leader writes past it.
/// </summary>
[Collection(InProcessClusterCollection.Name)]
public sealed class SnapshotCatchUpTests
{
    private const ulong Threshold = 40;
    private const int Keys = 150;

    private static InProcessCluster NewCluster() => new(3)
    {
        Configure = (_, c) => c with { RaftLogCompactThreshold = Threshold },
    };

    /// <summary>Starts, bootstraps, and returns the index of a node that holds a follower replica of range 1.</summary>
    private static async Task<int> StartWithFollowerAsync(InProcessCluster c)
    {
        await c.StartAsync();
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.PutAsync("first", "0");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (c.Hosts.Any(h => !h!.Ranges.Contains(1)))
        {
            Assert.True(DateTime.UtcNow < deadline, "not every node opened its replica of range 1");
            await Task.Delay(20);
        }

        var leader = await c.WaitForRangeLeaderAsync(1);
        return Enumerable.Range(0, 3).First(i => c.Addresses[i] != leader.LeaderAddress);
    }

    private static async Task WriteWhileStoppedAsync(InProcessCluster c, int follower)
    {
        await c.StopNodeAsync(follower);
        for (var i = 0; i < Keys; i++)
        {
            await c.PutAsync($"key{i:D4}", $"value{i}", TimeSpan.FromSeconds(30));
        }

        // Every live node must have compacted past what the stopped node has: whichever of them
        // leads when it comes back (under load leadership moves, and the stopped node may even
        // have been leading when it stopped) must have to send a snapshot, not entries. A new
        // leader does not compact past a follower it has not heard from while its leadership is
        // young, and compaction runs on apply: so keep writing (keys the checks ignore) until
        // every live node has truncated its log.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        for (var extra = 0; ; extra++)
        {
            var compacted = true;
            foreach (var h in c.Hosts)
            {
                if (h?.Store is { } store && await store.FirstIndexAsync(1) <= Threshold)
                {
                    compacted = false;
                }
            }

            if (compacted)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "the live nodes did not all compact range 1's log past the stopped node");
            await c.PutAsync($"extra{extra:D4}", "x", TimeSpan.FromSeconds(30));
        }
    }

    private static async Task WaitAsync(Func<bool> condition, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(20);
        }
    }

    /// <summary>Moves leadership to the node and reads every key through it.</summary>
    private static async Task AssertServesEverythingAsync(InProcessCluster c, int node)
    {
        await using var ops = RangeOperations.Connect(c.Addresses);
        var storeId = c.Hosts[node]!.StoreId;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                // A TransferLeader operation's step completes only once the target leads.
                await ops.TransferLeadershipAsync(1, storeId, patience: TimeSpan.FromSeconds(60));
                break;
            }
            catch (KvException) when (DateTime.UtcNow < deadline)
            {
            }

            Assert.True(DateTime.UtcNow < deadline, $"leadership did not move to store {storeId}");
            await Task.Delay(100);
        }

        for (var i = 0; i < Keys; i++)
        {
            var got = await c.GetAsync(c.Addresses[node], $"key{i:D4}");
            Assert.Null(got.Error);
            Assert.True(got.Found, $"key{i:D4} missing on the node that caught up by snapshot");
            Assert.Equal($"value{i}", got.Value.ToStringUtf8());
        }

        Assert.True((await c.GetAsync(c.Addresses[node], "first")).Found);
    }

    [Fact]
    public async Task A_follower_behind_the_compacted_log_catches_up_by_a_snapshot_resumed_after_a_broken_stream()
    {
        await using var c = NewCluster();
        var follower = await StartWithFollowerAsync(c);
        await WriteWhileStoppedAsync(c, follower);

        // Small chunks, and the first attempt of each transfer breaks once the receiver holds two
        // of them: the second attempt must continue where the receiver is, not from 0.
        var follower0 = follower;
        foreach (var h in c.Hosts.Where(h => h is not null))
        {
            var s = h!.Snapshots!;
            s.ChunkBytes = 1024;
            s.BreakBefore = (attempt, chunk) =>
            {
                if (attempt != 1 || chunk.FileIndex != 0 || chunk.Offset != 2048)
                {
                    return false;
                }

                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (c.Hosts[follower0]?.SnapshotReceiving?.ReceiverOf(1)?.ResumePoint.Offset != 2048 && DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(5); // a sender-side hook on a pool thread: waits for the receiver's progress
                }

                return true;
            };
        }

        await c.StartNodeAsync(follower);
        var node = c.Hosts[follower]!;
        await WaitAsync(() => node.Store!.SnapshotsInstalled >= 1, "the restarted follower never installed a snapshot");
        // The sender counts a transfer once the receiver's answer reaches it, which can be after the install.
        await WaitAsync(() => c.Hosts.Any(h => h is not null && h.Snapshots!.Sent >= 1), "no store counted the snapshot as sent");
        // Every sender's resume points: leadership may have moved while the follower caught up.
        var resumed = c.Hosts.Where(h => h is not null && h.Snapshots!.Sent >= 1).SelectMany(h => h!.Snapshots!.ResumePoints);
        Assert.Contains(resumed, p => p.FileIndex == 0 && p.Offset == 2048);
        Assert.True(await node.Store!.FirstIndexAsync(1) > Threshold, "the follower's log should start after the snapshot");
        // The byte counters /metrics shows (docs/OBSERVABILITY.md), each node's own.
        var received = await MetricsText.CollectAsync(node.Metrics.Registry);
        Assert.True(received.Value("kv_snapshot_received_bytes_total") > 2048, "the follower received at least the chunks before the break");
        var senders = new List<Dictionary<string, double>>();
        foreach (var h in c.Hosts.Where(h => h is not null && h.Snapshots!.Sent >= 1))
        {
            senders.Add(await MetricsText.CollectAsync(h!.Metrics.Registry));
        }

        Assert.True(senders.Sum(s => s.Value("kv_snapshot_sent_bytes_total")) >= received.Value("kv_snapshot_received_bytes_total"), "senders count every byte they streamed, resent ones again");
        Assert.True(senders.Sum(s => s.Value("kv_snapshots_sent_total")) >= 1);

        await AssertServesEverythingAsync(c, follower);
    }

    [Fact]
    public async Task A_restart_between_ingesting_a_snapshot_and_writing_the_raft_state_catches_up_again()
    {
        await using var c = NewCluster();
        var follower = await StartWithFollowerAsync(c);
        await WriteWhileStoppedAsync(c, follower);

        // 1. Crash right after the ingest, before the round's write (the driver stops there).
        var crashed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        c.BeforeStart = (i, h) =>
        {
            if (i == follower)
            {
                h.OnStoreFailure = (message, _) => crashed.TrySetResult(message);
                h.AfterSnapshotIngest = _ => throw new InvalidOperationException("test: crash between ingest and the raft-state write");
            }
        };
        await c.StartNodeAsync(follower);
        await crashed.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, c.Hosts[follower]!.Store!.SnapshotsInstalled);

        // 2. Restart without the fault: the raft state says the snapshot was never installed, so
        // the leader sends one again and it replaces the span.
        await c.StopNodeAsync(follower);
        c.BeforeStart = null;
        await c.StartNodeAsync(follower);
        var node = c.Hosts[follower]!;
        await WaitAsync(() => node.Store!.SnapshotsInstalled >= 1, "the restarted follower never installed a snapshot after the crash");

        // 3. Restart once more: the installed snapshot (descriptor, raft state, data) survives.
        await c.StopNodeAsync(follower);
        await c.StartNodeAsync(follower);
        await AssertServesEverythingAsync(c, follower);
    }
}
