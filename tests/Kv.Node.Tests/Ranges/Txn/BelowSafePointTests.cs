using Google.Protobuf;
using Kv.Client;
using Kv.Node.Mvcc;
using Kv.Node.Ranges.Txn;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Ranges.Txn;

/// <summary>
/// Reads and transactions below the GC safe point fail with a typed error naming the safe point
/// (shared/DESIGN.md section 6: "Reads below the safe point fail with a clear error"), on a real
/// single-replica range; at the safe point they still work (the control).
/// </summary>
public sealed class BelowSafePointTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private readonly SingleRangeStore node = new();
    private TxnScheduler scheduler = null!;

    private static RangeId Range => new(SingleRangeStore.RangeId);

    private static ByteString Key(string k) => ByteString.CopyFromUtf8(k);

    public async Task InitializeAsync()
    {
        await node.StartAsync();
        scheduler = new TxnScheduler(node.Store, node.ReplicaOf, node);
        var (_, errors) = await scheduler.PrewriteAsync(Range, SingleRangeStore.Epoch, [new Mutation { Op = MutationOp.Put, Key = Key("a"), Value = Key("1") }],
            Key("a"), new Timestamp(10), 3000, [], CancellationToken.None).WaitAsync(Deadline);
        Assert.Empty(errors!);
        var (_, commitError) = await scheduler.CommitAsync(Range, SingleRangeStore.Epoch, [Key("a")], new Timestamp(10), new Timestamp(12), CancellationToken.None).WaitAsync(Deadline);
        Assert.Null(commitError);
        node.Store.ObserveGcSafePoint(new Timestamp(20));
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => node.Dispose();

    [Fact]
    public async Task A_get_below_the_safe_point_fails_naming_it_and_a_get_at_it_reads()
    {
        var below = await scheduler.GetAsync(Range, SingleRangeStore.Epoch, Key("a"), new Timestamp(19), CancellationToken.None).WaitAsync(Deadline);
        Assert.Null(below.RangeError);
        Assert.Null(below.Value);
        Assert.Equal(20UL, below.Error!.BelowGcSafePoint.SafePoint);
        Assert.Equal(19UL, below.Error.BelowGcSafePoint.Ts);
        Assert.Contains("GC safe point 20", below.Error.Message, StringComparison.Ordinal);
        Assert.Contains("restart the transaction", below.Error.Message, StringComparison.Ordinal);

        var at = await scheduler.GetAsync(Range, SingleRangeStore.Epoch, Key("a"), new Timestamp(20), CancellationToken.None).WaitAsync(Deadline);
        Assert.Null(at.Error);
        Assert.Equal("1"u8.ToArray(), at.Value);
    }

    [Fact]
    public async Task A_scan_below_the_safe_point_fails_and_returns_nothing()
    {
        var pairs = new List<KvPair>();
        var scan = await scheduler.ScanAsync(Range, SingleRangeStore.Epoch, ByteString.Empty, ByteString.Empty, 10, reverse: false, new Timestamp(5), pairs, CancellationToken.None)
            .WaitAsync(Deadline);
        Assert.NotNull(scan.Error?.BelowGcSafePoint);
        Assert.Empty(pairs);

        var control = await scheduler.ScanAsync(Range, SingleRangeStore.Epoch, ByteString.Empty, ByteString.Empty, 10, reverse: false, new Timestamp(25), pairs, CancellationToken.None)
            .WaitAsync(Deadline);
        Assert.Null(control.Error);
        Assert.Single(pairs);
    }

    [Fact]
    public async Task A_prewrite_starting_below_the_safe_point_is_refused_and_locks_nothing()
    {
        var (rangeError, errors) = await scheduler.PrewriteAsync(Range, SingleRangeStore.Epoch, [new Mutation { Op = MutationOp.Put, Key = Key("b"), Value = Key("2") }],
            Key("b"), new Timestamp(15), 3000, [], CancellationToken.None).WaitAsync(Deadline);
        Assert.Null(rangeError);
        Assert.Equal(20UL, Assert.Single(errors!).BelowGcSafePoint.SafePoint);
        Assert.Null(new EngineMvccReader(node.Engine).LoadLock(Key("b").Span));
    }

    [Fact]
    public void The_store_only_raises_its_safe_point()
    {
        node.Store.ObserveGcSafePoint(new Timestamp(7));
        Assert.Equal(new Timestamp(20), node.Store.GcSafePoint);
        node.Store.ObserveGcSafePoint(new Timestamp(30));
        Assert.Equal(new Timestamp(30), node.Store.GcSafePoint);
    }

    [Fact]
    public void The_check_refuses_exactly_below_the_safe_point()
    {
        Assert.NotNull(GcSafePointCheck.Check(new Timestamp(9), new Timestamp(10), "a read"));
        Assert.Null(GcSafePointCheck.Check(new Timestamp(10), new Timestamp(10), "a read"));
        Assert.Null(GcSafePointCheck.Check(new Timestamp(1), Timestamp.Zero, "a read"));
    }
}
