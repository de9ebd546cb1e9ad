using System.Collections.Concurrent;
using System.Text;
using Google.Protobuf;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Views;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Cluster;

/// <summary>Range splits on three in-process nodes: refusals, concurrent load, restarts, re-routing.</summary>
[Collection(InProcessClusterCollection.Name)]
public sealed class SplitTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static async Task<InProcessCluster> StartBootstrappedAsync(Func<int, Kv.Node.Server.Configuration.NodeConfig, Kv.Node.Server.Configuration.NodeConfig>? tune = null)
    {
        var c = new InProcessCluster(3) { Configure = tune };
        await c.StartAsync();
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.WaitForRangeLeaderAsync(1);
        return c;
    }

    private static ByteString B(string s) => ByteString.CopyFromUtf8(s);

    /// <summary>Waits until placement's directory holds exactly `count` ranges tiling the key space, each with a leader.</summary>
    private static async Task<IReadOnlyList<RangeInfo>> WaitForRangesAsync(InProcessCluster c, int count)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            var r = await c.PlacementAsync(static (s, r, o) => s.Placement.ScanRangesAsync(r, o), new ScanRangesRequest { Header = new() }, x => x.Header);
            var tiled = r.Ranges.Count == count && r.Ranges[0].Range.StartKey.IsEmpty && r.Ranges[^1].Range.EndKey.IsEmpty
                && r.Ranges.Zip(r.Ranges.Skip(1)).All(p => p.First.Range.EndKey == p.Second.Range.StartKey)
                && r.Ranges.All(x => x.Leader is { ReplicaId: > 0 });
            if (tiled)
            {
                return r.Ranges;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"placement never showed {count} ranges tiling the key space with leaders: {r}");
            }

            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Split_refuses_bad_keys_and_stale_epochs_and_changes_nothing()
    {
        await using var c = await StartBootstrappedAsync();
        await using var client = KvClient.Connect(c.Addresses);
        await using var ops = RangeOperations.Connect(c.Addresses);
        await client.PutAsync("a"u8.ToArray(), "1"u8.ToArray());
        var split = await ops.SplitAsync("m"u8.ToArray());
        Assert.Equal(1ul, split.Left.RangeId);
        Assert.Equal(B("m"), split.Left.EndKey);
        Assert.Equal(B("m"), split.Right.StartKey);
        Assert.Equal(2ul, split.Left.Epoch.Version);
        Assert.Equal(2ul, split.Right.Epoch.Version);
        Assert.Equal(split.Left.Epoch.ConfVer, split.Right.Epoch.ConfVer);
        Assert.Equal(split.Left.Replicas.Select(r => r.StoreId).Order(), split.Right.Replicas.Select(r => r.StoreId).Order());
        var before = await WaitForRangesAsync(c, 2);
        var right = before[1];
        var rightId = new RangeId(right.Range.RangeId);

        // Splits are operations now (the synchronous Admin.SplitRange RPC is gone): a bad split is
        // refused at submit by the planner with INVALID_ARGUMENT / NOT_FOUND / FAILED_PRECONDITION
        // and what to do, and nothing is recorded. The RPC's separate "start key" and "outside the
        // range" refusals are one planner refusal, "not strictly inside", naming the range's bounds.
        async Task<KvAdminException> RefusedAsync(OperationRequest request) =>
            await Assert.ThrowsAsync<KvAdminException>(() => ops.Admin.SubmitAsync(request));

        var atStart = await RefusedAsync(OperationRequest.Split(rightId, "m"u8.ToArray()));
        Assert.Equal(PlacementErrorCode.PlacementErrorInvalidArgument, atStart.Code);
        Assert.Contains("not strictly inside", atStart.ServerMessage, StringComparison.Ordinal);
        Assert.Contains("after its start key", atStart.ServerMessage, StringComparison.Ordinal);
        var outside = await RefusedAsync(OperationRequest.Split(rightId, "a"u8.ToArray()));
        Assert.Equal(PlacementErrorCode.PlacementErrorInvalidArgument, outside.Code);
        Assert.Contains("not strictly inside", outside.ServerMessage, StringComparison.Ordinal);
        var tooLong = await RefusedAsync(OperationRequest.Split(rightId, Enumerable.Repeat((byte)'x', 5000).ToArray()));
        Assert.Equal(PlacementErrorCode.PlacementErrorInvalidArgument, tooLong.Code);
        Assert.Contains("4096", tooLong.ServerMessage, StringComparison.Ordinal);
        var noRange = await RefusedAsync(OperationRequest.Split(new RangeId(0), "q"u8.ToArray()));
        Assert.Equal(PlacementErrorCode.PlacementErrorNotFound, noRange.Code);
        var stale = await RefusedAsync(OperationRequest.Split(rightId, "q"u8.ToArray()) with { Epoch = new EpochView(right.Range.Epoch.ConfVer, 1) });
        Assert.Equal(PlacementErrorCode.PlacementErrorFailedPrecondition, stale.Code);
        Assert.Contains("as the request saw", stale.ServerMessage, StringComparison.Ordinal);

        // An empty key: the client refuses it before any call; a peer that sends one anyway (the
        // raw Admin API) is refused by the node.
        await Assert.ThrowsAsync<ArgumentException>(() => ops.Admin.SubmitAsync(OperationRequest.Split(rightId, ReadOnlyMemory<byte>.Empty)));
        var empty = await RawSubmitAsync(c, new OperationSpec { Kind = OperationKind.Split, RangeId = right.Range.RangeId });
        Assert.Equal(PlacementErrorCode.PlacementErrorInvalidArgument, empty.Error?.Code);
        Assert.Contains("empty", empty.Error!.Message, StringComparison.Ordinal);

        // Through the helper that finds the range holding the key: the key that starts a range is
        // refused with what to do.
        var viaClient = await Assert.ThrowsAsync<KvAdminException>(() => ops.SplitAsync("m"u8.ToArray()));
        Assert.Equal(KvErrorKind.InvalidArgument, viaClient.Kind);
        Assert.Contains("strictly inside", viaClient.Message, StringComparison.Ordinal);

        // Nothing changed: the same two ranges at the same epochs, only the first split recorded,
        // and both ranges still serve.
        var after = await WaitForRangesAsync(c, 2);
        Assert.Equal(before.Select(r => (r.Range.RangeId, r.Range.Epoch.Version, r.Range.Epoch.ConfVer)), after.Select(r => (r.Range.RangeId, r.Range.Epoch.Version, r.Range.Epoch.ConfVer)));
        Assert.Single(await ops.ListOwnAsync());
        await client.PutAsync("z"u8.ToArray(), "2"u8.ToArray());
        Assert.Equal("1"u8.ToArray(), await client.GetAsync("a"u8.ToArray()));
        Assert.Equal("2"u8.ToArray(), await client.GetAsync("z"u8.ToArray()));
    }

    /// <summary>SubmitOperation on the raw Admin API (what any gRPC peer can send), at whichever node leads placement.</summary>
    private static async Task<SubmitOperationResponse> RawSubmitAsync(InProcessCluster c, OperationSpec spec)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            foreach (var address in c.Addresses)
            {
                var r = await c.Channel(address).Admin.SubmitOperationAsync(new SubmitOperationRequest { Id = "raw-" + Guid.NewGuid().ToString("N"), Spec = spec, RequestedBy = "tests" });
                if (r.Error?.Code is not (PlacementErrorCode.PlacementErrorNotLeader or PlacementErrorCode.PlacementErrorUnavailable))
                {
                    return r;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, "no node answered as the placement leader");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Splits_under_concurrent_writers_and_a_scanner_lose_nothing_and_both_halves_serve_after_a_full_restart()
    {
        await using var c = await StartBootstrappedAsync();
        await using var client = KvClient.Connect(c.Addresses);
        await client.PutAsync("k0-0000"u8.ToArray(), "warm"u8.ToArray());
        var acked = new ConcurrentDictionary<string, string>();
        using var stop = new CancellationTokenSource();
        var scanProblems = new ConcurrentQueue<string>();
        var scans = 0;

        async Task WriteAsync(int w)
        {
            await using var writer = KvClient.Connect(c.Addresses);
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var key = $"k{w}-{i:D4}";
                await writer.PutAsync(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes($"v{i}"));
                acked[key] = $"v{i}";
            }
        }

        async Task ScanAsync()
        {
            await using var scanner = KvClient.Connect(c.Addresses);
            while (!stop.IsCancellationRequested)
            {
                var mustSee = acked.Keys.ToHashSet(StringComparer.Ordinal);
                var pairs = await scanner.ScanAsync("k"u8.ToArray(), "l"u8.ToArray(), 0, reverse: false);
                var keys = pairs.Select(p => p.Key.ToStringUtf8()).ToList();
                if (keys.Distinct(StringComparer.Ordinal).Count() != keys.Count)
                {
                    scanProblems.Enqueue($"scan {scans} returned a key twice");
                }

                if (!keys.SequenceEqual(keys.Order(StringComparer.Ordinal), StringComparer.Ordinal))
                {
                    scanProblems.Enqueue($"scan {scans} is out of order");
                }

                var seen = keys.ToHashSet(StringComparer.Ordinal);
                var lost = mustSee.Where(k => !seen.Contains(k)).ToList();
                if (lost.Count > 0)
                {
                    scanProblems.Enqueue($"scan {scans} missed {lost.Count} acknowledged keys, e.g. {lost[0]}");
                }

                scans++;
            }
        }

        var load = Enumerable.Range(0, 4).Select(w => Task.Run(() => WriteAsync(w))).Append(Task.Run(ScanAsync)).ToList();
        var splits = new List<(RangeDescriptor Left, RangeDescriptor Right)>();
        await using var ops = RangeOperations.Connect(c.Addresses);
        foreach (var at in new[] { "k2", "k1", "k3-0005" })
        {
            await WaitUntilAsync(() => acked.Count >= 40 * (splits.Count + 1), "writers make progress");
            splits.Add(await ops.SplitAsync(Encoding.UTF8.GetBytes(at)));
        }

        await WaitUntilAsync(() => scans >= 3 && acked.Count >= 200, "writers and scanner make progress after the splits");
        await stop.CancelAsync();
        await Task.WhenAll(load);
        Assert.Empty(scanProblems);
        Assert.Equal(4, splits.Select(s => s.Right.RangeId).Append(1ul).Distinct().Count());

        var ranges = await WaitForRangesAsync(c, 4);
        Assert.Equal(["", "k1", "k2", "k3-0005"], ranges.Select(r => r.Range.StartKey.ToStringUtf8()));
        await VerifyAllAsync(c, acked);

        // Every node down, every node up: both halves of every split come back from their persisted descriptors.
        for (var i = 0; i < 3; i++)
        {
            await c.StopNodeAsync(i);
        }

        await c.StartAsync();
        var restarted = await WaitForRangesAsync(c, 4);
        Assert.Equal(ranges.Select(r => (r.Range.RangeId, r.Range.Epoch.Version)), restarted.Select(r => (r.Range.RangeId, r.Range.Epoch.Version)));
        await VerifyAllAsync(c, acked);
        await using var fresh = KvClient.Connect(c.Addresses);
        await fresh.PutAsync("k3-9999"u8.ToArray(), "after-restart"u8.ToArray());
        Assert.Equal("after-restart"u8.ToArray(), await fresh.GetAsync("k3-9999"u8.ToArray()));
    }

    [Fact]
    public async Task A_client_with_a_stale_route_re_routes_from_the_EpochNotMatch_hint()
    {
        await using var c = await StartBootstrappedAsync();
        await using var stale = KvClient.Connect(c.Addresses);
        await using var admin = KvClient.Connect(c.Addresses);
        await using var ops = RangeOperations.Connect(c.Addresses);
        await stale.PutAsync("a"u8.ToArray(), "1"u8.ToArray()); // caches range 1 as the whole key space
        var before = await c.WaitForRangeLeaderAsync(1);

        var split = await ops.SplitAsync("m"u8.ToArray());

        // The left half's leader answers the old epoch with both halves.
        var leftLeader = await WaitForLeaderAddressAsync(c, 1, split.Left.Epoch.Version);
        var error = (await c.Channel(leftLeader).RawKv.PutAsync(new RawPutRequest
        {
            Context = new RangeContext { RangeId = 1, Epoch = before.Range.Epoch },
            Key = B("z"),
            Value = B("x"),
        })).Error;
        Assert.NotNull(error?.EpochNotMatch);
        Assert.Equal([split.Left.RangeId, split.Right.RangeId], error.EpochNotMatch.Current.Select(d => d.RangeId));
        Assert.Equal(B("m"), error.EpochNotMatch.Current[0].EndKey);
        Assert.Equal(B("m"), error.EpochNotMatch.Current[1].StartKey);

        // The stale client writes on both sides of the boundary and reads back.
        await stale.PutAsync("z"u8.ToArray(), "2"u8.ToArray());
        await stale.PutAsync("b"u8.ToArray(), "3"u8.ToArray());
        Assert.Equal("2"u8.ToArray(), await admin.GetAsync("z"u8.ToArray()));
        Assert.Equal("3"u8.ToArray(), await admin.GetAsync("b"u8.ToArray()));
        var all = await stale.ScanAsync(ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty, 0, reverse: false);
        Assert.Equal(["a", "b", "z"], all.Select(p => p.Key.ToStringUtf8()));
    }

    [Fact]
    public async Task A_steady_load_over_a_small_size_threshold_splits_a_chain_of_ranges_and_keeps_every_key()
    {
        await using var c = await StartBootstrappedAsync((_, cfg) => cfg with { RangeSplitSizeMb = 1, RangeSplitCheckIntervalMs = 200 });
        await using var client = KvClient.Connect(c.Addresses);
        var value = new byte[1024];
        Random.Shared.NextBytes(value);
        var written = new List<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        Google.Protobuf.Collections.RepeatedField<RangeInfo> ranges = [];
        for (var i = 0; ranges.Count < 3; i++)
        {
            // Ascending keys, as a log or a time series writes them: the last range keeps growing.
            var key = $"t{i:D6}";
            await client.PutAsync(Encoding.UTF8.GetBytes(key), value);
            written.Add(key);
            if (i % 200 == 0)
            {
                ranges = (await c.PlacementAsync(static (s, r, o) => s.Placement.ScanRangesAsync(r, o), new ScanRangesRequest { Header = new() }, x => x.Header)).Ranges;
            }

            Assert.True(DateTime.UtcNow < deadline, $"only {ranges.Count} ranges after {written.Count} KiB written");
        }

        Assert.True(written.Count >= 1500, $"3 ranges after only {written.Count} KiB: the 1 MiB threshold was not respected");
        var all = await client.ScanAsync(ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty, 0, reverse: false);
        Assert.Equal(written, all.Select(p => p.Key.ToStringUtf8()));
        foreach (var key in written.Where((_, i) => i % 97 == 0))
        {
            Assert.Equal(value, await client.GetAsync(Encoding.UTF8.GetBytes(key)));
        }
    }

    [Fact]
    public async Task A_hot_range_splits_at_a_key_sampled_from_its_requests()
    {
        await using var c = await StartBootstrappedAsync((_, cfg) => cfg with { RangeSplitQps = 50, RangeSplitCheckIntervalMs = 500 });
        await using var client = KvClient.Connect(c.Addresses);
        for (var i = 0; i < 20; i++)
        {
            await client.PutAsync(Encoding.UTF8.GetBytes($"h{i:D2}"), "v"u8.ToArray());
        }

        var deadline = DateTime.UtcNow + Deadline;
        Google.Protobuf.Collections.RepeatedField<RangeInfo> ranges = [];
        for (var i = 0; ranges.Count < 2; i++)
        {
            await Task.WhenAll(Enumerable.Range(0, 20).Select(k => client.GetAsync(Encoding.UTF8.GetBytes($"h{k:D2}"))));
            if (i % 10 == 0)
            {
                ranges = (await c.PlacementAsync(static (s, r, o) => s.Placement.ScanRangesAsync(r, o), new ScanRangesRequest { Header = new() }, x => x.Header)).Ranges;
            }

            Assert.True(DateTime.UtcNow < deadline, "the hot range was never split");
        }

        // Placement learned that this split was by load (the scheduler scatters such halves): every
        // placement member applied the right half's split record.
        var rightId = ranges[1].Range.RangeId;
        foreach (var group in c.Hosts.Select(h => h?.PlacementGroup).Where(g => g is { IsMember: true }))
        {
            while (!(group!.State.Snapshot.Ops.Splits.TryGetValue(rightId, out var record) && record.Origin.Reason == SplitReason.Load && record.Origin.LeftRangeId == ranges[0].Range.RangeId))
            {
                Assert.True(DateTime.UtcNow < deadline, $"placement never recorded range {rightId} as the right half of a load split");
                await group.State.NextChange().WaitAsync(TimeSpan.FromMilliseconds(200)).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        // The split key came from the requests: strictly between the hot keys' bounds.
        var boundary = ranges[1].Range.StartKey.ToStringUtf8();
        Assert.InRange(string.CompareOrdinal(boundary, "h00"), 1, int.MaxValue);
        Assert.InRange(string.CompareOrdinal(boundary, "h19"), int.MinValue, 0);
        for (var k = 0; k < 20; k++)
        {
            Assert.Equal("v"u8.ToArray(), await client.GetAsync(Encoding.UTF8.GetBytes($"h{k:D2}")));
        }
    }

    [Fact]
    public async Task A_replica_that_missed_the_split_creates_the_right_half_when_it_applies_it_and_catches_up_from_the_log()
    {
        await using var c = await StartBootstrappedAsync();
        await using var client = KvClient.Connect(c.Addresses, new KvClientOptions { RequestTimeout = Deadline });
        await client.PutAsync("a"u8.ToArray(), "0"u8.ToArray());

        // 1. Node 3 is down while the range splits and both halves take writes.
        await c.StopNodeAsync(2);
        await using var ops = RangeOperations.Connect(c.Addresses, new KvClientOptions { RequestTimeout = Deadline });
        var split = await ops.SplitAsync("m"u8.ToArray());
        await client.PutAsync("x"u8.ToArray(), "right"u8.ToArray());
        await client.PutAsync("b"u8.ToArray(), "left"u8.ToArray());

        // 2. It comes back with the unsplit range; the right half's leader contacts it before its
        //    left half has applied the split (those messages are dropped: no empty right replica).
        await c.StartNodeAsync(2);

        // 3. Node 1 goes: both halves now need node 3's vote, so they serve only if node 3 applied
        //    the split, created the right half from it and caught up on the right's log.
        await c.StopNodeAsync(0);
        Assert.Equal("right"u8.ToArray(), await client.GetAsync("x"u8.ToArray()));
        Assert.Equal("left"u8.ToArray(), await client.GetAsync("b"u8.ToArray()));
        await client.PutAsync("y"u8.ToArray(), "after"u8.ToArray());
        var all = await client.ScanAsync(ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty, 0, reverse: false);
        Assert.Equal(["a", "b", "x", "y"], all.Select(p => p.Key.ToStringUtf8()));
        Assert.Equal(split.Right.RangeId, (await client.ListRangesAsync())[^1].Range.RangeId);
    }

    private static async Task<string> WaitForLeaderAddressAsync(InProcessCluster c, ulong rangeId, ulong version)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            var info = await c.WaitForRangeLeaderAsync(rangeId);
            if (info.Range.Epoch.Version >= version)
            {
                return info.LeaderAddress;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"placement never showed range {rangeId} at version {version}");
            }

            await Task.Delay(50);
        }
    }

    private static async Task VerifyAllAsync(InProcessCluster c, ConcurrentDictionary<string, string> acked)
    {
        await using var reader = KvClient.Connect(c.Addresses);
        foreach (var (k, v) in acked)
        {
            Assert.Equal(v, Encoding.UTF8.GetString(await reader.GetAsync(Encoding.UTF8.GetBytes(k)) ?? []));
        }

        var scanned = await reader.ScanAsync("k"u8.ToArray(), "l"u8.ToArray(), 0, reverse: false);
        var keys = scanned.Select(p => p.Key.ToStringUtf8()).ToList();
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
        Assert.Superset(acked.Keys.ToHashSet(StringComparer.Ordinal), keys.ToHashSet(StringComparer.Ordinal));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting until {what}");
            }

            await Task.Delay(20);
        }
    }
}
