using System.CommandLine;
using Kv.Cli.Commands;
using Kv.Client;
using Kv.Client.Cluster;
using Kv.Node.Tests.ClientReactions;
using Kv.Proto.V1;

namespace Kv.Cli.Tests;

/// <summary>
/// Transactions end to end against a scripted node serving an in-memory Percolator store
/// (FakeTxnKv, txn_kv.proto's semantics) on a real socket: kvctl txn run, the client's commit
/// (conflicts, lost primary commit answers), and lock resolution by readers.
/// </summary>
public sealed class TxnCommandTests
{
    private static readonly string NoContext = Path.Combine(Path.GetTempPath(), "kvctl-txn-test-absent", "context.json");

    private static (int Code, string Stdout, string Stderr) Run(string stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(TxnCommand.Build(stdout, new StringReader(stdin)));
        var parse = root.Parse(args);
        Assert.Empty(parse.Errors);
        var code = parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static KvClientOptions Options(double seconds = 10) => new()
    {
        RequestTimeout = TimeSpan.FromSeconds(seconds),
        AttemptTimeout = TimeSpan.FromSeconds(Math.Min(seconds, 1)),
        BackoffBase = TimeSpan.FromMilliseconds(5),
        BackoffMax = TimeSpan.FromMilliseconds(50),
    };

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("{\"op\":\"get\"}", "expected a JSON array of operations, not an object")]
    [InlineData("[]", "the array is empty")]
    [InlineData("[{\"op\":\"get\",\"key\":\"a\"}, {\"op\":\"incr\",\"key\":\"a\"}]", "element 1: unknown op \"incr\" (expected get, put or delete)")]
    [InlineData("[{\"op\":\"put\",\"key\":\"a\"}]", "element 0: a put needs \"value\"")]
    [InlineData("[{\"op\":\"get\",\"key\":\"\"}]", "element 0: the key must not be empty")]
    [InlineData("[{\"op\":\"get\",\"key\":1}]", "element 0: \"key\" must be a string")]
    [InlineData("[{\"op\":\"delete\",\"key\":\"a\",\"value\":\"x\"}]", "element 0: a delete takes no \"value\"")]
    [InlineData("[{\"op\":\"get\",\"key\":\"a\",\"extra\":1}]", "element 0: unknown field \"extra\"")]
    [InlineData("[5]", "element 0: expected an object")]
    public void Bad_files_are_refused_with_the_element_named(string json, string expected)
    {
        Assert.Null(TxnCommand.Parse(json, hex: false, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_valid_file_parses_in_order_with_hex_when_asked()
    {
        var ops = TxnCommand.Parse("[{\"op\":\"put\",\"key\":\"0x6b\",\"value\":\"ff00\"},{\"op\":\"get\",\"key\":\"6b\"},{\"op\":\"delete\",\"key\":\"6b\"}]", hex: true, out var error);
        Assert.Null(error);
        Assert.NotNull(ops);
        Assert.Equal(["put", "get", "delete"], ops.Select(o => o.Op));
        Assert.Equal(new byte[] { 0x6b }, ops[0].Key);
        Assert.Equal(new byte[] { 0xff, 0x00 }, ops[0].Value);
        Assert.Null(ops[1].Value);
    }

    [Fact]
    public async Task A_refused_file_exits_2_and_sends_nothing()
    {
        await using var node = await ScriptedNode.StartAsync();
        FakeTxnKv.Install(node);
        var (code, stdout, stderr) = Run("[{\"op\":\"put\",\"key\":\"a\",\"value\":\"1\"},{\"op\":\"nope\",\"key\":\"a\"}]",
            "txn", "run", "--file", "-", "--endpoint", node.Address, "--context", NoContext);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("standard input: element 1: unknown op \"nope\"", stderr, StringComparison.Ordinal);
        Assert.Empty(stdout);
        Assert.Empty(node.Received(TxnKvMethods.Prewrite));
        Assert.Empty(node.Received(PlacementMethods.GetTimestamp));
    }

    [Fact]
    public async Task Txn_run_from_stdin_and_from_a_file_prints_the_reads_and_the_commit_ts()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);
        var first = Run("[{\"op\":\"put\",\"key\":\"a\",\"value\":\"1\"},{\"op\":\"put\",\"key\":\"b\",\"value\":\"2\"},{\"op\":\"get\",\"key\":\"a\"},{\"op\":\"get\",\"key\":\"zz\"}]",
            "txn", "run", "--file", "-", "--endpoint", node.Address, "--context", NoContext);
        Assert.True(first.Code == ExitCodes.Ok, first.Stderr);
        var lines = first.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("a 1", lines[0]);
        Assert.Equal("zz (not found)", lines[1]);
        Assert.StartsWith("committed at ", lines[2], StringComparison.Ordinal);
        Assert.Equal("1", store.ValueAt("a"));

        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "[{\"op\":\"delete\",\"key\":\"a\"},{\"op\":\"get\",\"key\":\"a\"},{\"op\":\"get\",\"key\":\"b\"}]");
            var second = Run(string.Empty, "txn", "run", "--file", file, "--endpoint", node.Address, "--context", NoContext);
            Assert.True(second.Code == ExitCodes.Ok, second.Stderr);
            Assert.StartsWith("a (not found)\nb 2\ncommitted at ", second.Stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
            Assert.Null(store.ValueAt("a"));
            Assert.Equal("2", store.ValueAt("b"));

            // Secondaries are committed in the background: every lock goes away.
            await WaitUntil(() => store.LockCount == 0);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_write_conflict_rolls_back_what_was_prewritten_and_exits_6()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);
        await using var client = KvClient.Connect([node.Address], Options());
        var older = await client.BeginAsync();
        var newer = await client.BeginAsync();
        newer.Put("b"u8.ToArray(), "new"u8.ToArray());
        await newer.CommitAsync();
        older.Put("a"u8.ToArray(), "old"u8.ToArray());
        older.Put("b"u8.ToArray(), "old"u8.ToArray());
        var e = await Assert.ThrowsAsync<KvException>(() => older.CommitAsync());
        Assert.Equal(KvErrorKind.WriteConflict, e.Kind);
        Assert.Contains("write conflict on b", e.Message, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Conflict, ClusterConnection.ExitCodeOf(e.Kind));
        Assert.Equal("new", store.ValueAt("b"));
        Assert.Null(store.ValueAt("a"));
        Assert.Equal(0, store.LockCount);
        Assert.DoesNotContain(node.Received(TxnKvMethods.Commit), c => c.StartTs == older.StartTs.Value);
    }

    [Fact]
    public async Task A_lost_primary_commit_answer_is_settled_by_rolling_the_primary_back_when_it_was_not_applied()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);
        store.SwallowCommit = _ => true;
        await using var client = KvClient.Connect([node.Address], Options(seconds: 3));
        var txn = await client.BeginAsync();
        txn.Put("k1"u8.ToArray(), "v"u8.ToArray());
        txn.Put("k2"u8.ToArray(), "v"u8.ToArray());
        var e = await Assert.ThrowsAsync<KvException>(() => txn.CommitAsync());
        Assert.Equal(KvErrorKind.TxnAborted, e.Kind);
        Assert.Contains("answer was lost", e.Message, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Conflict, ClusterConnection.ExitCodeOf(e.Kind));
        // The commit was sent once (never retried after a lost answer), then the primary rolled back.
        Assert.Equal("k1", Assert.Single(node.Received(TxnKvMethods.Commit)).Keys.Single().ToStringUtf8());
        Assert.Equal("k1", Assert.Single(node.Received(TxnKvMethods.Rollback)).Keys.Single().ToStringUtf8());
        Assert.Equal(1, store.LockCount); // the secondary's lock is left to readers, who find the primary rolled back
        Assert.Null(store.ValueAt("k1"));
        Assert.Null(store.ValueAt("k2"));
    }

    [Fact]
    public async Task A_lost_primary_commit_answer_is_settled_as_committed_when_it_was_applied()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);
        store.LoseCommitAnswer = c => c.Keys.Any(k => k.ToStringUtf8() == "k1");
        await using var client = KvClient.Connect([node.Address], Options(seconds: 3));
        var txn = await client.BeginAsync();
        txn.Put("k1"u8.ToArray(), "v"u8.ToArray());
        txn.Put("k2"u8.ToArray(), "v"u8.ToArray());
        var commitTs = await txn.CommitAsync();
        Assert.True(commitTs > txn.StartTs);
        await txn.SecondariesCommitted;
        Assert.Equal("v", store.ValueAt("k1"));
        Assert.Equal("v", store.ValueAt("k2"));
        Assert.Single(node.Received(TxnKvMethods.Rollback)); // refused as committed: nothing rolled back
        Assert.Equal(0, store.LockCount);
    }

    [Fact]
    public async Task A_lost_primary_commit_answer_whose_settling_rollback_is_lost_too_is_outcome_unknown()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);
        store.SwallowCommit = _ => true;
        store.SwallowRollback = true;
        await using var client = KvClient.Connect([node.Address], Options(seconds: 3));
        var txn = await client.BeginAsync();
        txn.Put("k1"u8.ToArray(), "v"u8.ToArray());
        txn.Put("k2"u8.ToArray(), "v"u8.ToArray());
        var e = await Assert.ThrowsAsync<KvException>(() => txn.CommitAsync());
        Assert.Equal(KvErrorKind.CommitOutcomeUnknown, e.Kind);
        Assert.Contains("may or may not be committed", e.Message, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.OutcomeUnknown, ClusterConnection.ExitCodeOf(e.Kind));
        Assert.Single(node.Received(TxnKvMethods.Commit));
        Assert.Equal(2, store.LockCount); // nothing decided: both locks stay for resolution
    }

    [Fact]
    public async Task A_commit_cancelled_while_its_primary_request_is_in_flight_is_outcome_unknown_and_not_settled()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);
        using var cancel = new CancellationTokenSource();
        store.SwallowCommit = _ =>
        {
            cancel.Cancel(); // the caller gives up once the commit has reached the node
            return true;
        };
        await using var client = KvClient.Connect([node.Address], Options(seconds: 10));
        var txn = await client.BeginAsync();
        txn.Put("k1"u8.ToArray(), "v"u8.ToArray());
        txn.Put("k2"u8.ToArray(), "v"u8.ToArray());
        var e = await Assert.ThrowsAsync<KvException>(() => txn.CommitAsync(cancel.Token));
        Assert.Equal(KvErrorKind.CommitOutcomeUnknown, e.Kind);
        Assert.Contains("cancelled", e.Message, StringComparison.Ordinal);
        Assert.Empty(node.Received(TxnKvMethods.Rollback)); // the client did not stay to settle it
        Assert.Equal(2, store.LockCount);
    }

    [Fact]
    public async Task A_primary_commit_answered_NotLeader_until_the_deadline_is_settled_not_reported_as_not_committed()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);
        store.CommitRangeError = _ => new RangeError { Message = "not leader (leadership lost after the commit was appended)", NotLeader = new NotLeader { RangeId = 1 } };
        store.SwallowRollback = true;
        await using var client = KvClient.Connect([node.Address], Options(seconds: 2));
        var txn = await client.BeginAsync();
        txn.Put("k1"u8.ToArray(), "v"u8.ToArray());
        txn.Put("k2"u8.ToArray(), "v"u8.ToArray());
        var e = await Assert.ThrowsAsync<KvException>(() => txn.CommitAsync());
        Assert.Equal(KvErrorKind.CommitOutcomeUnknown, e.Kind);
        Assert.Contains("may or may not be committed", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("was not committed", e.Message, StringComparison.Ordinal);
        // Retried within the deadline (safe: a commit is idempotent), primary only; then the
        // settling rollback of the primary (lost here, so the outcome stays unknown).
        Assert.True(node.Received(TxnKvMethods.Commit).Count > 1);
        Assert.All(node.Received(TxnKvMethods.Commit), c => Assert.Equal("k1", c.Keys.Single().ToStringUtf8()));
        Assert.All(node.Received(TxnKvMethods.Rollback), r => Assert.Equal("k1", r.Keys.Single().ToStringUtf8()));
        Assert.NotEmpty(node.Received(TxnKvMethods.Rollback));
        Assert.Equal(2, store.LockCount);

        // With the rollback answered, the same failure settles as aborted.
        store.SwallowRollback = false;
        var second = await client.BeginAsync();
        second.Put("k3"u8.ToArray(), "v"u8.ToArray());
        var aborted = await Assert.ThrowsAsync<KvException>(() => second.CommitAsync());
        Assert.Equal(KvErrorKind.TxnAborted, aborted.Kind);
        Assert.Null(store.ValueAt("k3"));
    }

    [Fact]
    public async Task A_transaction_rolled_back_before_its_commit_arrives_is_aborted()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);
        await using var client = KvClient.Connect([node.Address], Options());
        var txn = await client.BeginAsync();
        store.BeforeCommit = c => store.ResolvePlantedRollback(c.StartTs, "k1", "k2");
        txn.Put("k1"u8.ToArray(), "v"u8.ToArray());
        txn.Put("k2"u8.ToArray(), "v"u8.ToArray());
        var e = await Assert.ThrowsAsync<KvException>(() => txn.CommitAsync());
        Assert.Equal(KvErrorKind.TxnAborted, e.Kind);
        Assert.Null(store.ValueAt("k1"));
        Assert.Null(store.ValueAt("k2"));
    }

    [Fact]
    public async Task A_reader_rolls_back_an_expired_transaction_and_reads_the_old_value()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);
        await using var client = KvClient.Connect([node.Address], Options());
        var setup = await client.BeginAsync();
        setup.Put("s"u8.ToArray(), "old"u8.ToArray());
        await setup.CommitAsync();

        // A crashed writer: its primary p and secondary s locked with a 1 ms TTL, long ago.
        var crashed = store.Now();
        store.PlantLock("p", "p", crashed, 1, "new", "s");
        store.PlantLock("s", "p", crashed, 1, "new");
        await WaitUntil(() => new Timestamp(store.Now()).PhysicalMs > new Timestamp(crashed).PhysicalMs + 1);

        var reader = await client.BeginAsync();
        Assert.Equal("old"u8.ToArray(), await reader.GetAsync("s"u8.ToArray()));
        var check = Assert.Single(node.Received(TxnKvMethods.CheckTxnStatus));
        Assert.Equal("p", check.PrimaryKey.ToStringUtf8());
        Assert.True(check.RollbackIfNotExist);
        var resolve = Assert.Single(node.Received(TxnKvMethods.ResolveLock));
        Assert.Equal(0ul, resolve.CommitTs);
        Assert.Equal(crashed, resolve.StartTs);

        // The primary is rolled back for good: the crashed writer can never commit now.
        Assert.Null(store.ValueAt("p"));
        Assert.Equal(0, store.LockCount);
    }

    [Fact]
    public async Task A_reader_commits_the_secondary_of_a_transaction_whose_primary_committed()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);
        await using var client = KvClient.Connect([node.Address], Options());

        // A writer killed after committing its primary: the secondary's lock is left (TTL long).
        var start = store.Now();
        store.PlantLock("p", "p", start, 60_000, "vp", "s");
        store.PlantLock("s", "p", start, 60_000, "vs");
        var commitTs = store.Now();
        store.CommitPlanted("p", start, commitTs);

        var reader = await client.BeginAsync();
        var pairs = await reader.ScanAsync("a"u8.ToArray(), "z"u8.ToArray(), limit: 0);
        Assert.Equal(["p", "s"], pairs.Select(p => System.Text.Encoding.UTF8.GetString(p.Key)));
        Assert.Equal("vs"u8.ToArray(), pairs[1].Value);
        var resolve = Assert.Single(node.Received(TxnKvMethods.ResolveLock));
        Assert.Equal(commitTs, resolve.CommitTs);
        Assert.Equal("vs", store.ValueAt("s"));
    }

    [Fact]
    public async Task A_live_lock_that_outlasts_the_deadline_is_KeyIsLocked_exit_6()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);
        var start = store.Now();
        store.PlantLock("k", "k", start, 600_000, "v");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = KvctlApp.Run(["kv", "get", "k", "--endpoint", node.Address, "--context", NoContext, "--timeout", "3"], stdout, stderr);
        Assert.Equal(ExitCodes.Conflict, code);
        Assert.Contains("is locked by transaction", stderr.ToString(), StringComparison.Ordinal);

        // Never rolled back: its TTL had not passed.
        Assert.All(node.Received(TxnKvMethods.CheckTxnStatus), c => Assert.False(c.RollbackIfNotExist));
        Assert.Equal(1, store.LockCount);
    }

    [Fact]
    public async Task Reads_see_the_transactions_own_writes_and_the_snapshot_otherwise()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);
        await using var client = KvClient.Connect([node.Address], Options());
        var setup = await client.BeginAsync();
        setup.Put("a"u8.ToArray(), "1"u8.ToArray());
        setup.Put("b"u8.ToArray(), "2"u8.ToArray());
        setup.Put("c"u8.ToArray(), "3"u8.ToArray());
        await setup.CommitAsync();
        await setup.SecondariesCommitted;

        var txn = await client.BeginAsync();
        var later = await client.BeginAsync();
        later.Put("a"u8.ToArray(), "changed"u8.ToArray());
        await later.CommitAsync();

        txn.Delete("b"u8.ToArray());
        txn.Put("bb"u8.ToArray(), "x"u8.ToArray());
        Assert.Equal("1"u8.ToArray(), await txn.GetAsync("a"u8.ToArray()));
        Assert.Null(await txn.GetAsync("b"u8.ToArray()));
        var forward = await txn.ScanAsync(ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty, limit: 3);
        Assert.Equal(["a", "bb", "c"], forward.Select(p => System.Text.Encoding.UTF8.GetString(p.Key)));
        var reverse = await txn.ScanAsync(ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty, limit: 2, reverse: true);
        Assert.Equal(["c", "bb"], reverse.Select(p => System.Text.Encoding.UTF8.GetString(p.Key)));
        await txn.RollbackAsync();
        Assert.Equal("2", store.ValueAt("b"));
        Assert.Throws<InvalidOperationException>(() => txn.Put("z"u8.ToArray(), "z"u8.ToArray()));
    }

    [Fact]
    public async Task A_commit_running_past_half_the_ttl_heartbeats_the_primary()
    {
        await using var node = await ScriptedNode.StartAsync();
        var store = FakeTxnKv.Install(node);

        // The primary's commit is held until the client has heartbeaten (TTL 3 s: after 1.5 s).
        store.BeforeCommit = _ => Assert.True(SpinWait.SpinUntil(() => node.Received(TxnKvMethods.TxnHeartBeat).Count > 0, TimeSpan.FromSeconds(20)), "no heartbeat");
        await using var client = KvClient.Connect([node.Address], new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(30), AttemptTimeout = TimeSpan.FromSeconds(30) });
        var txn = await client.BeginAsync();
        txn.Put("p"u8.ToArray(), "v"u8.ToArray());
        await txn.CommitAsync();
        var beat = node.Received(TxnKvMethods.TxnHeartBeat)[0];
        Assert.Equal("p", beat.PrimaryLock.ToStringUtf8());
        Assert.Equal(txn.StartTs.Value, beat.StartTs);
        Assert.True(beat.AdviseTtlMs > 3_000, $"advised {beat.AdviseTtlMs} ms");
        Assert.Equal("v", store.ValueAt("p"));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 10 s");
            await Task.Delay(10);
        }
    }
}
