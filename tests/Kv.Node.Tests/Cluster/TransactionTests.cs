using System.Text;
using Grpc.Core;
using Kv.Client;
using Kv.Client.Cluster;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Cluster;

/// <summary>
/// Kv.Client transactions against three in-process nodes: across ranges, conflicts, lock resolution.
/// The crashed-writer tests here simulate the dead client; Kv.System.Tests' CrashedClientTests kill a
/// real kv-workload client process (SIGKILL) at the same two points of its commit.
/// </summary>
[Collection(InProcessClusterCollection.Name)]
public sealed class TransactionTests
{
    private static async Task<InProcessCluster> StartBootstrappedAsync()
    {
        var c = new InProcessCluster(3);
        await c.StartAsync();
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.WaitForRangeLeaderAsync(1);
        return c;
    }

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Splits at the key through a Split operation (submitted and waited for).</summary>
    private static async Task SplitAsync(InProcessCluster c, string key)
    {
        await using var ops = RangeOperations.Connect(c.Addresses);
        await ops.SplitAsync(B(key));
    }

    private static string S(byte[]? b) => b is null ? "(null)" : Encoding.UTF8.GetString(b);

    [Fact]
    public async Task A_transaction_across_two_ranges_commits_atomically_and_reads_its_snapshot()
    {
        await using var c = await StartBootstrappedAsync();
        await using var client = KvClient.Connect(c.Addresses);
        await SplitAsync(c, "m");

        var setup = await client.BeginAsync();
        setup.Put(B("a"), B("100"));
        setup.Put(B("z"), B("0"));
        var setupTs = await setup.CommitAsync();
        Assert.True(setupTs > setup.StartTs);
        await setup.SecondariesCommitted;

        var snapshot = await client.BeginAsync();
        var transfer = await client.BeginAsync();
        transfer.Put(B("a"), B("60"));
        transfer.Put(B("z"), B("40"));
        await transfer.CommitAsync();

        // The older snapshot still sees the state before the transfer; a new one sees it all.
        Assert.Equal("100", S(await snapshot.GetAsync(B("a"))));
        Assert.Equal("0", S(await snapshot.GetAsync(B("z"))));
        var after = await client.BeginAsync();
        var pairs = await after.ScanAsync(ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty, 0);
        Assert.Equal(["a=60", "z=40"], pairs.Select(p => $"{S(p.Key)}={S(p.Value)}"));
        var reverse = await after.ScanAsync(ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty, 1, reverse: true);
        Assert.Equal("z", S(reverse.Single().Key));
    }

    [Fact]
    public async Task Locking_the_keys_a_decision_read_turns_write_skew_into_a_write_conflict()
    {
        await using var c = await StartBootstrappedAsync();
        await using var client = KvClient.Connect(c.Addresses);

        async Task ResetAsync()
        {
            var setup = await client.BeginAsync();
            setup.Put(B("oncall/x"), B("on"));
            setup.Put(B("oncall/y"), B("on"));
            await setup.CommitAsync();
            await setup.SecondariesCommitted;
        }

        // Each of two transactions sees both on call and takes one off: snapshot isolation lets
        // both commit (write skew), and nobody is on call.
        await ResetAsync();
        var t1 = await client.BeginAsync();
        var t2 = await client.BeginAsync();
        Assert.Equal("on", S(await t1.GetAsync(B("oncall/y"))));
        Assert.Equal("on", S(await t2.GetAsync(B("oncall/x"))));
        t1.Put(B("oncall/x"), B("off"));
        t2.Put(B("oncall/y"), B("off"));
        await t1.CommitAsync();
        await t2.CommitAsync();

        // The same with each locking the key its decision read: the second to commit conflicts,
        // and the lock itself changes no value.
        await ResetAsync();
        var t3 = await client.BeginAsync();
        var t4 = await client.BeginAsync();
        Assert.Equal("on", S(await t3.GetAsync(B("oncall/y"))));
        Assert.Equal("on", S(await t4.GetAsync(B("oncall/x"))));
        t3.Put(B("oncall/x"), B("off"));
        t3.Lock(B("oncall/y"));
        t4.Put(B("oncall/y"), B("off"));
        t4.Lock(B("oncall/x"));
        await t3.CommitAsync();
        await t3.SecondariesCommitted;
        var e = await Assert.ThrowsAsync<KvException>(() => t4.CommitAsync());
        Assert.Equal(KvErrorKind.WriteConflict, e.Kind);

        var after = await client.BeginAsync();
        Assert.Equal("off", S(await after.GetAsync(B("oncall/x"))));
        Assert.Equal("on", S(await after.GetAsync(B("oncall/y"))));

        // A transaction that only locks commits, and still changes nothing.
        var lockOnly = await client.BeginAsync();
        lockOnly.Lock(B("oncall/y"));
        Assert.True(await lockOnly.CommitAsync() > lockOnly.StartTs);
        var last = await client.BeginAsync();
        Assert.Equal("on", S(await last.GetAsync(B("oncall/y"))));
    }

    [Fact]
    public async Task Concurrent_writers_of_one_key_one_wins_the_other_gets_WriteConflict()
    {
        await using var c = await StartBootstrappedAsync();
        await using var client = KvClient.Connect(c.Addresses);
        var t1 = await client.BeginAsync();
        var t2 = await client.BeginAsync();
        t1.Put(B("k"), B("1"));
        t2.Put(B("k"), B("2"));
        await t2.CommitAsync();
        var e = await Assert.ThrowsAsync<KvException>(() => t1.CommitAsync());
        Assert.Equal(KvErrorKind.WriteConflict, e.Kind);
        var read = await client.BeginAsync();
        Assert.Equal("2", S(await read.GetAsync(B("k"))));
    }

    /// <summary>
    /// Simulates the dead writer (its locks are written over RPC; no client process dies). The
    /// real-process version, a kv-workload client killed with SIGKILL after its prewrite, is
    /// Kv.System.Tests' CrashedClientTests.
    /// </summary>
    [Fact]
    public async Task A_crashed_writers_expired_locks_are_rolled_back_by_a_reader_all_or_nothing()
    {
        await using var c = await StartBootstrappedAsync();
        await using var client = KvClient.Connect(c.Addresses);
        var start = await SetUpCrashedWriterAsync(c, client, ttlMs: 1);

        // Reading the secondary first: the reader asks the primary, rolls the transaction back, then reads the old value.
        var reader = await client.BeginAsync();
        Assert.Equal("old", S(await reader.GetAsync(B("z"))));
        Assert.Equal("old", S(await reader.GetAsync(B("a"))));
        var status = await client.LockResolver.CheckTxnStatusAsync(B("a"), start, rollbackIfNotExist: false);
        Assert.Equal(TxnStatusKind.RolledBack, status.Kind);
    }

    /// <summary>
    /// Simulates the dead writer (its locks and its primary's commit are written over RPC). The
    /// real-process version, a kv-workload client killed with SIGKILL after its primary's commit,
    /// is Kv.System.Tests' CrashedClientTests.
    /// </summary>
    [Fact]
    public async Task A_writer_that_crashed_after_committing_the_primary_has_its_secondary_committed_by_a_reader()
    {
        await using var c = await StartBootstrappedAsync();
        await using var client = KvClient.Connect(c.Addresses);
        // A long TTL: the reader must not be able to roll anything back, only finish the commit.
        var start = await SetUpCrashedWriterAsync(c, client, ttlMs: 600_000);
        var commitTs = await client.GetTimestampAsync();
        var primary = await c.WaitForRangeLeaderAsync((await client.ListRangesAsync())[0].Range.RangeId);
        var commit = await c.Channel(primary.LeaderAddress).TxnKv.CommitAsync(new CommitRequest
        {
            Context = new RangeContext { RangeId = primary.Range.RangeId, Epoch = primary.Range.Epoch },
            StartTs = start.Value,
            CommitTs = commitTs.Value,
            Keys = { Google.Protobuf.ByteString.CopyFromUtf8("a") },
        }, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10)));
        Assert.Null(commit.RangeError);
        Assert.Null(commit.Error);

        // The secondary is still locked; a reader resolves it through the committed primary.
        var reader = await client.BeginAsync();
        Assert.Equal("new", S(await reader.GetAsync(B("z"))));
        Assert.Equal("new", S(await reader.GetAsync(B("a"))));
        var status = await client.LockResolver.CheckTxnStatusAsync(B("a"), start, rollbackIfNotExist: false);
        Assert.Equal(TxnStatusKind.Committed, status.Kind);
        Assert.Equal(commitTs, status.CommitTs);
    }

    /// <summary>
    /// Splits at "m", commits a="old" and z="old", then plays a writer that prewrote a="new"
    /// (primary) and z="new" with the given TTL and died: only its locks remain. Returns its start_ts.
    /// A simulation, fast and in-process; CrashedClientTests (Kv.System.Tests) kills a real client.
    /// </summary>
    private static async Task<Timestamp> SetUpCrashedWriterAsync(InProcessCluster c, KvClient client, ulong ttlMs)
    {
        await SplitAsync(c, "m");
        var setup = await client.BeginAsync();
        setup.Put(B("a"), B("old"));
        setup.Put(B("z"), B("old"));
        await setup.CommitAsync();
        await setup.SecondariesCommitted;

        var start = await client.GetTimestampAsync();
        // The placement directory learns of the split's right half asynchronously.
        var ranges = await client.ListRangesAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (ranges.Count < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the placement directory never listed both halves of the split");
            await Task.Delay(50);
            ranges = await client.ListRangesAsync();
        }

        foreach (var (key, range) in new[] { ("a", ranges[0]), ("z", ranges[1]) })
        {
            var leader = await c.WaitForRangeLeaderAsync(range.Range.RangeId);
            var request = new PrewriteRequest
            {
                Context = new RangeContext { RangeId = leader.Range.RangeId, Epoch = leader.Range.Epoch },
                PrimaryLock = Google.Protobuf.ByteString.CopyFromUtf8("a"),
                StartTs = start.Value,
                LockTtlMs = ttlMs,
                Mutations = { new Mutation { Op = MutationOp.Put, Key = Google.Protobuf.ByteString.CopyFromUtf8(key), Value = Google.Protobuf.ByteString.CopyFromUtf8("new") } },
            };
            if (key == "a")
            {
                request.Secondaries.Add(Google.Protobuf.ByteString.CopyFromUtf8("z"));
            }

            var response = await c.Channel(leader.LeaderAddress).TxnKv.PrewriteAsync(request, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10)));
            Assert.Empty(response.Errors);
        }

        return start;
    }

    [Fact]
    public async Task A_read_only_transaction_commits_nothing_and_a_disposed_one_changes_nothing()
    {
        await using var c = await StartBootstrappedAsync();
        await using var client = KvClient.Connect(c.Addresses);
        var ro = await client.BeginAsync();
        Assert.Null(await ro.GetAsync(B("nothing")));
        Assert.Equal(ro.StartTs, await ro.CommitAsync());

        await using (var abandoned = await client.BeginAsync())
        {
            abandoned.Put(B("k"), B("v"));
        }

        var read = await client.BeginAsync();
        Assert.Null(await read.GetAsync(B("k")));
    }
}
