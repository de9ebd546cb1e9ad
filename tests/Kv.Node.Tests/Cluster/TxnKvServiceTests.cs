using Kv.Client.Transport;
using Google.Protobuf;
using Grpc.Core;
using Kv.Client.Cluster;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Cluster;

/// <summary>kv.v1.TxnKv on three in-process nodes: transactions across a split, leader-only reads, refusals, snapshot catch-up.</summary>
[Collection(InProcessClusterCollection.Name)]
public sealed class TxnKvServiceTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static ByteString B(string s) => ByteString.CopyFromUtf8(s);

    private static async Task<InProcessCluster> StartBootstrappedAsync(Func<int, Kv.Node.Server.Configuration.NodeConfig, Kv.Node.Server.Configuration.NodeConfig>? tune = null)
    {
        var c = new InProcessCluster(3) { Configure = tune };
        await c.StartAsync();
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.WaitForRangeLeaderAsync(1);
        return c;
    }

    /// <summary>Calls the range's leader, following leader changes and placement lag (NotLeader, EpochNotMatch, RangeNotFound) until the deadline.</summary>
    private static async Task<TResponse> CallAsync<TRequest, TResponse>(InProcessCluster c, Func<NodeStubs, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call, ulong rangeId,
        Func<RangeContext, TRequest> make, Func<TResponse, RangeError?> rangeError)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            var info = await c.WaitForRangeLeaderAsync(rangeId);
            RangeError? error;
            try
            {
                var r = await call(c.Channel(info.LeaderAddress), make(new RangeContext { RangeId = rangeId, Epoch = info.Range.Epoch }),
                    new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(5)));
                error = rangeError(r);
                if (error is null || error is { NotLeader: null, EpochNotMatch: null, RangeNotFound: null })
                {
                    return r;
                }
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled)
            {
                error = new RangeError { Message = e.Message };
            }

            Assert.True(DateTime.UtcNow < deadline, $"{typeof(TRequest).Name} on range {rangeId} never reached a leader: {error}");
            await Task.Delay(50);
        }
    }

    private static Task<TxnGetResponse> GetAsync(InProcessCluster c, ulong rangeId, string key, ulong version) =>
        CallAsync(c, static (s, r, o) => s.TxnKv.GetAsync(r, o), rangeId, ctx => new TxnGetRequest { Context = ctx, Key = B(key), Version = version }, r => r.RangeError);

    private static Task<PrewriteResponse> PrewriteAsync(InProcessCluster c, ulong rangeId, ulong startTs, string primary, params (string Key, string Value)[] puts) =>
        CallAsync(c, static (s, r, o) => s.TxnKv.PrewriteAsync(r, o), rangeId, ctx =>
        {
            var request = new PrewriteRequest { Context = ctx, StartTs = startTs, PrimaryLock = B(primary), LockTtlMs = 3000 };
            request.Mutations.AddRange(puts.Select(p => new Mutation { Op = MutationOp.Put, Key = B(p.Key), Value = B(p.Value) }));
            return request;
        }, r => r.RangeError);

    private static Task<CommitResponse> CommitAsync(InProcessCluster c, ulong rangeId, ulong startTs, ulong commitTs, params string[] keys) =>
        CallAsync(c, static (s, r, o) => s.TxnKv.CommitAsync(r, o), rangeId, ctx => new CommitRequest { Context = ctx, StartTs = startTs, CommitTs = commitTs, Keys = { keys.Select(B) } }, r => r.RangeError);

    private static Task<ScanLockResponse> ScanLockAsync(InProcessCluster c, ulong rangeId) =>
        CallAsync(c, static (s, r, o) => s.TxnKv.ScanLockAsync(r, o), rangeId, ctx => new ScanLockRequest { Context = ctx, MaxVersion = ulong.MaxValue }, r => r.RangeError);

    [Fact]
    public async Task A_transaction_across_a_split_commits_and_reads_come_from_the_leader_only()
    {
        await using var c = await StartBootstrappedAsync();
        await using var ops = RangeOperations.Connect(c.Addresses);
        var split = await ops.SplitAsync("m"u8.ToArray());
        var left = split.Left.RangeId;
        var right = split.Right.RangeId;

        // Primary "a" on the left range carries the secondary "x" of the right range.
        var prewrite = await CallAsync(c, static (s, r, o) => s.TxnKv.PrewriteAsync(r, o), left, ctx => new PrewriteRequest
        {
            Context = ctx,
            StartTs = 100,
            PrimaryLock = B("a"),
            LockTtlMs = 3000,
            Mutations = { new Mutation { Op = MutationOp.Put, Key = B("a"), Value = B("va") } },
            Secondaries = { B("x") },
        }, r => r.RangeError);
        Assert.Empty(prewrite.Errors);
        Assert.Null(prewrite.RangeError);
        Assert.Empty((await PrewriteAsync(c, right, 100, "a", ("x", new string('X', 1000)))).Errors);

        // Locked to readers above start_ts; the primary's status says LOCKED with its secondaries.
        Assert.NotNull((await GetAsync(c, right, "x", 150)).Error?.Locked);
        var status = await CallAsync(c, static (s, r, o) => s.TxnKv.CheckTxnStatusAsync(r, o), left, ctx => new CheckTxnStatusRequest { Context = ctx, PrimaryKey = B("a"), LockTs = 100, CurrentTs = 101 }, r => r.RangeError);
        Assert.Equal(TxnStatusKind.Locked, status.Status);
        Assert.Equal([B("x")], status.Lock.Secondaries);

        Assert.Null((await CommitAsync(c, left, 100, 200, "a")).Error);
        Assert.Null((await CommitAsync(c, right, 100, 200, "x")).Error);
        Assert.Empty((await ScanLockAsync(c, left)).Locks);
        Assert.Empty((await ScanLockAsync(c, right)).Locks);

        Assert.Equal("va", (await GetAsync(c, left, "a", 200)).Value.ToStringUtf8());
        Assert.False((await GetAsync(c, left, "a", 199)).Found);
        Assert.Equal(new string('X', 1000), (await GetAsync(c, right, "x", 300)).Value.ToStringUtf8());
        var scan = await CallAsync(c, static (s, r, o) => s.TxnKv.ScanAsync(r, o), left, ctx => new TxnScanRequest { Context = ctx, Version = 300 }, r => r.RangeError);
        Assert.Equal([B("a")], scan.Pairs.Select(p => p.Key));

        // A follower never answers from its own (possibly stale) engine: it points at the leader.
        var info = await c.WaitForRangeLeaderAsync(left);
        var follower = c.Addresses.First(a => a != info.LeaderAddress);
        var fromFollower = await c.Channel(follower).TxnKv.GetAsync(new TxnGetRequest { Context = new RangeContext { RangeId = left, Epoch = info.Range.Epoch }, Key = B("a"), Version = 300 });
        Assert.NotNull(fromFollower.RangeError?.NotLeader);
        Assert.False(fromFollower.Found);
    }

    [Fact]
    public async Task Every_bad_input_is_refused_and_changes_nothing()
    {
        await using var c = await StartBootstrappedAsync();
        await using var ops = RangeOperations.Connect(c.Addresses);
        var split = await ops.SplitAsync("m"u8.ToArray());
        var left = split.Left.RangeId;
        Assert.Empty((await PrewriteAsync(c, left, 10, "a", ("a", "1"))).Errors);
        Assert.Null((await CommitAsync(c, left, 10, 20, "a")).Error);

        var huge = ByteString.CopyFrom(new byte[(1 << 20) + 1]);
        var longKey = ByteString.CopyFrom(new byte[4097]);
        var refusals = new (string What, Func<RangeContext, Task> Call)[]
        {
            ("commit_ts == start_ts", ctx => c.Channel(Leader(c, left)).TxnKv.CommitAsync(new CommitRequest { Context = ctx, StartTs = 30, CommitTs = 30, Keys = { B("a") } }).ResponseAsync),
            ("commit_ts < start_ts", ctx => c.Channel(Leader(c, left)).TxnKv.CommitAsync(new CommitRequest { Context = ctx, StartTs = 30, CommitTs = 29, Keys = { B("a") } }).ResponseAsync),
            ("zero start_ts", ctx => c.Channel(Leader(c, left)).TxnKv.PrewriteAsync(new PrewriteRequest { Context = ctx, PrimaryLock = B("a"), Mutations = { new Mutation { Key = B("a"), Value = B("z") } } }).ResponseAsync),
            ("no mutations", ctx => c.Channel(Leader(c, left)).TxnKv.PrewriteAsync(new PrewriteRequest { Context = ctx, StartTs = 30, PrimaryLock = B("a") }).ResponseAsync),
            ("no commit keys", ctx => c.Channel(Leader(c, left)).TxnKv.CommitAsync(new CommitRequest { Context = ctx, StartTs = 10, CommitTs = 40 }).ResponseAsync),
            ("no rollback keys", ctx => c.Channel(Leader(c, left)).TxnKv.RollbackAsync(new RollbackRequest { Context = ctx, StartTs = 10 }).ResponseAsync),
            ("oversized value", ctx => c.Channel(Leader(c, left)).TxnKv.PrewriteAsync(new PrewriteRequest { Context = ctx, StartTs = 30, PrimaryLock = B("a"), Mutations = { new Mutation { Key = B("a"), Value = huge } } }).ResponseAsync),
            ("oversized key", ctx => c.Channel(Leader(c, left)).TxnKv.PrewriteAsync(new PrewriteRequest { Context = ctx, StartTs = 30, PrimaryLock = B("a"), Mutations = { new Mutation { Key = longKey, Value = B("z") } } }).ResponseAsync),
            ("duplicate key", ctx => c.Channel(Leader(c, left)).TxnKv.PrewriteAsync(new PrewriteRequest { Context = ctx, StartTs = 30, PrimaryLock = B("a"), Mutations = { new Mutation { Key = B("a") }, new Mutation { Key = B("a") } } }).ResponseAsync),
            ("lock TTL above the limit", ctx => c.Channel(Leader(c, left)).TxnKv.PrewriteAsync(new PrewriteRequest { Context = ctx, StartTs = 30, PrimaryLock = B("a"), LockTtlMs = ulong.MaxValue, Mutations = { new Mutation { Key = B("a"), Value = B("z") } } }).ResponseAsync),
            ("heartbeat TTL above the limit", ctx => c.Channel(Leader(c, left)).TxnKv.TxnHeartBeatAsync(new TxnHeartBeatRequest { Context = ctx, StartTs = 10, PrimaryLock = B("a"), AdviseTtlMs = ulong.MaxValue }).ResponseAsync),
            ("empty primary_lock", ctx => c.Channel(Leader(c, left)).TxnKv.PrewriteAsync(new PrewriteRequest { Context = ctx, StartTs = 30, LockTtlMs = 3000, Mutations = { new Mutation { Key = B("a"), Value = B("z") } } }).ResponseAsync),
            ("empty mutation key", ctx => c.Channel(Leader(c, left)).TxnKv.PrewriteAsync(new PrewriteRequest { Context = ctx, StartTs = 30, PrimaryLock = B("a"), LockTtlMs = 3000, Mutations = { new Mutation { Value = B("z") } } }).ResponseAsync),
            ("no range", ctx => c.Channel(Leader(c, left)).TxnKv.PrewriteAsync(new PrewriteRequest { StartTs = 30, PrimaryLock = B("a"), Mutations = { new Mutation { Key = B("a") } } }).ResponseAsync),
        };
        var info = await c.WaitForRangeLeaderAsync(left);
        foreach (var (what, call) in refusals)
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => call(new RangeContext { RangeId = left, Epoch = info.Range.Epoch }));
            Assert.True(e.StatusCode == StatusCode.InvalidArgument, $"{what}: {e.StatusCode} {e.Message}");
            Assert.False(string.IsNullOrWhiteSpace(e.Status.Detail), $"{what}: the refusal says nothing");
        }

        // A key outside the range: a typed RangeError, no lock anywhere.
        var outside = await PrewriteAsync(c, left, 30, "a", ("a", "2"), ("x", "2"));
        Assert.NotNull(outside.RangeError?.KeyNotInRange);
        Assert.Empty((await ScanLockAsync(c, left)).Locks);
        Assert.Empty((await ScanLockAsync(c, split.Right.RangeId)).Locks);
        var still = await GetAsync(c, left, "a", 100);
        Assert.Equal("1", still.Value.ToStringUtf8());
    }

    private static string Leader(InProcessCluster c, ulong rangeId) => c.WaitForRangeLeaderAsync(rangeId).GetAwaiter().GetResult().LeaderAddress;

    [Fact]
    public async Task A_follower_that_catches_up_by_snapshot_serves_committed_values_and_locks()
    {
        const ulong threshold = 40;
        await using var c = await StartBootstrappedAsync((_, cfg) => cfg with { RaftLogCompactThreshold = threshold });
        await c.PutAsync("raw", "r");
        var deadline = DateTime.UtcNow + Deadline;
        while (c.Hosts.Any(h => !h!.Ranges.Contains(1)))
        {
            Assert.True(DateTime.UtcNow < deadline, "not every node opened its replica of range 1");
            await Task.Delay(20);
        }

        var leaderAddress = (await c.WaitForRangeLeaderAsync(1)).LeaderAddress;
        var follower = Enumerable.Range(0, 3).First(i => c.Addresses[i] != leaderAddress);
        await c.StopNodeAsync(follower);
        const int txns = 40;
        for (var i = 0; i < txns; i++)
        {
            var key = $"k{i:D3}";
            ulong start = 1000 + (ulong)(i * 10);
            Assert.Empty((await PrewriteAsync(c, 1, start, key, (key, i % 2 == 0 ? $"v{i}" : new string('L', 300 + i)))).Errors);
            Assert.Null((await CommitAsync(c, 1, start, start + 1, key)).Error);
        }

        Assert.Empty((await PrewriteAsync(c, 1, 5000, "pending", ("pending", "p"))).Errors);
        var leader = c.Hosts[Array.IndexOf(c.Addresses, (await c.WaitForRangeLeaderAsync(1)).LeaderAddress)]!;
        Assert.True(await leader.Store!.FirstIndexAsync(1) > threshold, "the leader's log was not truncated");

        await c.StartNodeAsync(follower);
        var node = c.Hosts[follower]!;
        while (node.Store!.SnapshotsInstalled < 1)
        {
            Assert.True(DateTime.UtcNow < deadline + Deadline, "the restarted follower never installed a snapshot");
            await Task.Delay(20);
        }

        await using var ops = RangeOperations.Connect(c.Addresses);
        var storeId = node.StoreId;
        while (true)
        {
            try
            {
                // A TransferLeader operation's step completes only once the target leads.
                await ops.TransferLeadershipAsync(1, storeId, patience: Deadline);
                if ((await c.WaitForRangeLeaderAsync(1)).LeaderAddress == c.Addresses[follower])
                {
                    break;
                }
            }
            catch (KvException) when (DateTime.UtcNow < deadline + Deadline)
            {
            }

            Assert.True(DateTime.UtcNow < deadline + Deadline, $"leadership did not move to store {storeId}");
            await Task.Delay(100);
        }

        for (var i = 0; i < txns; i++)
        {
            var got = await c.Channel(c.Addresses[follower]).TxnKv.GetAsync(new TxnGetRequest
            {
                Context = new RangeContext { RangeId = 1, Epoch = (await c.WaitForRangeLeaderAsync(1)).Range.Epoch },
                Key = B($"k{i:D3}"),
                Version = 10_000,
            });
            Assert.Null(got.RangeError);
            Assert.True(got.Found, $"k{i:D3} missing on the node that caught up by snapshot");
            Assert.Equal(i % 2 == 0 ? $"v{i}" : new string('L', 300 + i), got.Value.ToStringUtf8());
        }

        var locks = await c.Channel(c.Addresses[follower]).TxnKv.ScanLockAsync(new ScanLockRequest
        {
            Context = new RangeContext { RangeId = 1, Epoch = (await c.WaitForRangeLeaderAsync(1)).Range.Epoch },
            MaxVersion = ulong.MaxValue,
        });
        Assert.Null(locks.RangeError);
        Assert.Equal([B("pending")], locks.Locks.Select(l => l.Key));
    }
}
