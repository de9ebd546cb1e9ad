using Google.Protobuf;
using Kv.Client;
using Kv.Node.Mvcc;
using Kv.Node.Ranges.Txn;
using Kv.Node.Storage;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Ranges.Txn;

/// <summary>
/// The Percolator scheduler's ordering rules (node/Ranges/Txn/TxnScheduler.cs, steps 1-4), on a
/// real single-replica range: the latch serializes commands on a key, a command proposes exactly
/// what its rule wrote, and a command whose epoch no longer holds proposes nothing.
/// </summary>
public sealed class TxnSchedulerTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly SingleRangeStore node = new();
    private readonly Latches latches = new();
    private TxnScheduler scheduler = null!;

    private static RangeId Range => new(SingleRangeStore.RangeId);

    public async Task InitializeAsync()
    {
        await node.StartAsync();
        scheduler = new TxnScheduler(node.Store, node.ReplicaOf, node, latches);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => node.Dispose();

    private static ByteString Key(string k) => ByteString.CopyFromUtf8(k);

    private static MvccLock LockOf(Timestamp startTs, string primary) => new(LockType.Put, Key(primary).ToByteArray(), startTs, 3000, null, []);

    private async Task<ulong> AppliedAsync() => (await node.Store.StatusAsync()).Single(g => g.GroupId == SingleRangeStore.RangeId).Applied;

    /// <summary>
    /// Runs a command on key whose rule locks it for startTs, after waiting for <paramref name="gate"/>
    /// (signalling <paramref name="entered"/> first); returns whether the rule saw another lock on the key.
    /// </summary>
    private Task<TxnWriteResult<bool>> LockingCommand(string key, Timestamp startTs, ManualResetEventSlim? entered = null, ManualResetEventSlim? gate = null) =>
        scheduler.WriteAsync(Range, SingleRangeStore.Epoch, [Key(key)], (key, startTs, entered, gate), static (reader, txn, a) =>
        {
            a.entered?.Set();
            if (a.gate is not null && !a.gate.Wait(Deadline))
            {
                throw new TimeoutException("the test never opened the gate");
            }

            var sawLock = reader.LoadLock(Key(a.key).Span) is not null;
            txn.PutLock(Key(a.key).Span, LockOf(a.startTs, a.key));
            return sawLock;
        }, CancellationToken.None);

    private string KeyInAnotherSlotThan(string key)
    {
        for (var i = 0; ; i++)
        {
            var candidate = $"other-{i}";
            if (latches.Slot(Key(candidate).Span) != latches.Slot(Key(key).Span))
            {
                return candidate;
            }
        }
    }

    [Fact]
    public async Task A_command_on_a_latched_key_waits_and_then_reads_what_the_first_one_applied()
    {
        using var entered = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        var first = LockingCommand("k", new Timestamp(10), entered, gate);
        Assert.True(entered.Wait(Deadline), "the first command's rule did not run");

        var second = LockingCommand("k", new Timestamp(20));
        // A command on a key in another slot runs through every step while the first holds "k":
        // once it has, the second (started before it) would have too, had the latch not held it.
        var elsewhere = await LockingCommand(KeyInAnotherSlotThan("k"), new Timestamp(30)).WaitAsync(Deadline);
        Assert.Null(elsewhere.RangeError);
        Assert.False(second.IsCompleted);

        gate.Set();
        var (firstError, firstSaw) = await first.WaitAsync(Deadline);
        var (secondError, secondSaw) = await second.WaitAsync(Deadline);
        Assert.Null(firstError);
        Assert.Null(secondError);
        Assert.False(firstSaw);
        // Step 4 released the latch only after the first lock was applied, so the second rule read it.
        Assert.True(secondSaw);
    }

    [Fact]
    public async Task Negative_control_commands_on_keys_in_different_slots_do_not_wait_for_each_other()
    {
        using var entered = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        var other = KeyInAnotherSlotThan("k");
        var first = LockingCommand("k", new Timestamp(10), entered, gate);
        Assert.True(entered.Wait(Deadline), "the first command's rule did not run");

        // Without a shared latch the second command completes while the first is still blocked:
        // what the latch test above relies on to tell a held latch from a slow command.
        var (error, saw) = await LockingCommand(other, new Timestamp(20)).WaitAsync(Deadline);
        Assert.Null(error);
        Assert.False(saw);
        Assert.False(first.IsCompleted);
        gate.Set();
        Assert.Null((await first.WaitAsync(Deadline)).RangeError);
    }

    [Fact]
    public async Task A_command_proposes_exactly_its_rules_writes_and_none_when_the_rule_writes_nothing()
    {
        var before = await AppliedAsync();
        var (error, _) = await LockingCommand("k", new Timestamp(10)).WaitAsync(Deadline);
        Assert.Null(error);
        var afterWrite = await AppliedAsync();
        Assert.Equal(before + 1, afterWrite);
        Assert.Equal(LockOf(new Timestamp(10), "k").Encode(), node.Engine.Get(ColumnFamily.Lock, TxnKeys.LockKey("k"u8)));

        var (readError, sawLock) = await scheduler.WriteAsync(Range, SingleRangeStore.Epoch, [Key("k")], 0,
            static (reader, txn, _) => reader.LoadLock("k"u8) is not null, CancellationToken.None).WaitAsync(Deadline);
        Assert.Null(readError);
        Assert.True(sawLock);
        Assert.Equal(afterWrite, await AppliedAsync());
    }

    [Fact]
    public async Task A_command_routed_with_a_stale_epoch_is_refused_before_its_rule_runs()
    {
        var ran = new StrongBox();
        var stale = new RangeEpoch { ConfVer = 1, Version = 0 };
        var before = await AppliedAsync();
        var (error, _) = await scheduler.WriteAsync(Range, stale, [Key("k")], ran, static (reader, txn, r) =>
        {
            r.Ran = true;
            txn.PutLock("k"u8, LockOf(new Timestamp(10), "k"));
            return 0;
        }, CancellationToken.None).WaitAsync(Deadline);

        Assert.NotNull(error?.EpochNotMatch);
        Assert.False(ran.Ran);
        Assert.Equal(before, await AppliedAsync());
        Assert.Null(node.Engine.Get(ColumnFamily.Lock, TxnKeys.LockKey("k"u8)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // negative control: the same command with the epoch left alone proposes and writes
    public async Task A_command_whose_epoch_changes_between_its_read_point_and_its_proposal_proposes_nothing(bool bumpEpoch)
    {
        var before = await AppliedAsync();
        var (error, _) = await scheduler.WriteAsync(Range, SingleRangeStore.Epoch, [Key("k")], (node, bumpEpoch), static (reader, txn, a) =>
        {
            if (a.bumpEpoch)
            {
                // A split (say) applied after the read point: the range's Version moves on.
                a.node.Store.InvokeAsync(() =>
                {
                    var next = a.node.Replica.Descriptor.Clone();
                    next.Epoch.Version++;
                    using var batch = a.node.Engine.NewWriteBatch();
                    a.node.Replica.ReplaceDescriptor(next, batch);
                    a.node.Engine.Write(batch);
                    return 0;
                }).Wait(Deadline);
            }

            txn.PutLock("k"u8, LockOf(new Timestamp(10), "k"));
            return 0;
        }, CancellationToken.None).WaitAsync(Deadline);

        if (bumpEpoch)
        {
            Assert.NotNull(error?.EpochNotMatch);
            Assert.Equal(before, await AppliedAsync());
            Assert.Null(node.Engine.Get(ColumnFamily.Lock, TxnKeys.LockKey("k"u8)));
        }
        else
        {
            Assert.Null(error);
            Assert.Equal(before + 1, await AppliedAsync());
            Assert.NotNull(node.Engine.Get(ColumnFamily.Lock, TxnKeys.LockKey("k"u8)));
        }
    }

    [Fact]
    public async Task A_request_for_a_range_this_store_does_not_hold_is_RangeNotFound()
    {
        var (error, _) = await scheduler.CommitAsync(new RangeId(99), SingleRangeStore.Epoch, [Key("k")], new Timestamp(10), new Timestamp(11), CancellationToken.None)
            .WaitAsync(Deadline);
        Assert.NotNull(error?.RangeNotFound);
        Assert.Equal(99ul, error!.RangeNotFound.RangeId);
    }

    [Fact]
    public async Task Prewrite_then_commit_through_the_scheduler_is_read_back_by_get_and_scan()
    {
        var start = new Timestamp(10);
        var (prewriteError, keyErrors) = await scheduler.PrewriteAsync(Range, SingleRangeStore.Epoch,
            [new Mutation { Op = MutationOp.Put, Key = Key("a"), Value = Key("1") }, new Mutation { Op = MutationOp.Put, Key = Key("b"), Value = Key("2") }],
            Key("a"), start, 3000, [Key("b")], CancellationToken.None).WaitAsync(Deadline);
        Assert.Null(prewriteError);
        Assert.Empty(keyErrors!);

        var locked = await scheduler.GetAsync(Range, SingleRangeStore.Epoch, Key("a"), new Timestamp(15), CancellationToken.None).WaitAsync(Deadline);
        Assert.NotNull(locked.Error?.Locked);

        var (commitError, commitKeyError) = await scheduler.CommitAsync(Range, SingleRangeStore.Epoch, [Key("a"), Key("b")], start, new Timestamp(12), CancellationToken.None)
            .WaitAsync(Deadline);
        Assert.Null(commitError);
        Assert.Null(commitKeyError);

        var got = await scheduler.GetAsync(Range, SingleRangeStore.Epoch, Key("b"), new Timestamp(15), CancellationToken.None).WaitAsync(Deadline);
        Assert.Equal("2"u8.ToArray(), got.Value);
        var pairs = new List<KvPair>();
        var scan = await scheduler.ScanAsync(Range, SingleRangeStore.Epoch, ByteString.Empty, ByteString.Empty, 1, reverse: false, new Timestamp(15), pairs, CancellationToken.None)
            .WaitAsync(Deadline);
        Assert.Null(scan.RangeError);
        Assert.True(scan.More);
        Assert.Equal(["a"], pairs.Select(p => p.Key.ToStringUtf8()));
    }

    [Fact]
    public async Task ResolveLock_without_keys_resolves_every_lock_of_the_transaction_and_proposes_nothing_when_there_is_none()
    {
        var start = new Timestamp(10);
        var (prewriteError, keyErrors) = await scheduler.PrewriteAsync(Range, SingleRangeStore.Epoch,
            [new Mutation { Op = MutationOp.Put, Key = Key("a"), Value = Key("1") }, new Mutation { Op = MutationOp.Put, Key = Key("c"), Value = Key("3") }],
            Key("a"), start, 3000, [Key("c")], CancellationToken.None).WaitAsync(Deadline);
        Assert.Null(prewriteError);
        Assert.Empty(keyErrors!);
        // Another transaction's lock stays: only start_ts's locks are resolved.
        Assert.Null((await LockingCommand("b", new Timestamp(20)).WaitAsync(Deadline)).RangeError);

        var resolved = await scheduler.ResolveLockAsync(Range, SingleRangeStore.Epoch, null, start, new Timestamp(12), 100, CancellationToken.None).WaitAsync(Deadline);
        Assert.Equal(new ResolveLockResult(null, null, 2, Attempted: true), resolved);
        Assert.Null(node.Engine.Get(ColumnFamily.Lock, TxnKeys.LockKey("a"u8)));
        Assert.Null(node.Engine.Get(ColumnFamily.Lock, TxnKeys.LockKey("c"u8)));
        Assert.NotNull(node.Engine.Get(ColumnFamily.Lock, TxnKeys.LockKey("b"u8)));

        var before = await AppliedAsync();
        var none = await scheduler.ResolveLockAsync(Range, SingleRangeStore.Epoch, null, start, new Timestamp(12), 100, CancellationToken.None).WaitAsync(Deadline);
        Assert.Equal(new ResolveLockResult(null, null, 0, Attempted: false), none);
        Assert.Equal(before, await AppliedAsync());
    }

    /// <summary>Whether a rule ran (a class, so a static rule can record it through its argument).</summary>
    private sealed class StrongBox
    {
        public bool Ran { get; set; }
    }
}
