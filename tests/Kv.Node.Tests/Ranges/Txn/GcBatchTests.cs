using Google.Protobuf;
using Kv.Client;
using Kv.Node.Mvcc;
using Kv.Node.Ranges.Txn;
using Kv.Node.Storage;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Ranges.Txn;

/// <summary>
/// GC batches on a real single-replica range over RocksDB: the range leader collects garbage in
/// bounded batches and proposes the deletes through Raft; afterwards every read at or above the
/// safe point returns what it did before, and the garbage (old versions, their default-CF values,
/// deletes, rollbacks and lock records at or below the safe point) is gone.
/// </summary>
public sealed class GcBatchTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly string[] Keys = ["a", "b", "c", "d"];
    private readonly SingleRangeStore node = new();
    private TxnScheduler scheduler = null!;

    private static RangeId Range => new(SingleRangeStore.RangeId);

    private static ByteString Key(string k) => ByteString.CopyFromUtf8(k);

    // Above MaxShortValue, so it lives in the default CF.
    private static ByteString Big(string tag) => ByteString.CopyFromUtf8(tag + new string('x', TxnKeys.MaxShortValue + 10));

    public async Task InitializeAsync()
    {
        await node.StartAsync();
        scheduler = new TxnScheduler(node.Store, node.ReplicaOf, node);

        // a: three puts (big, small, big); b: put, delete; c: put, rollback, lock record, put above the safe point; d: put only above it.
        await Write("a", MutationOp.Put, Big("a1"), 10, 11);
        await Write("a", MutationOp.Put, Key("a2"), 20, 21);
        await Write("a", MutationOp.Put, Big("a3"), 30, 31);
        await Write("b", MutationOp.Put, Big("b1"), 12, 13);
        await Write("b", MutationOp.Delete, ByteString.Empty, 22, 23);
        await Write("c", MutationOp.Put, Big("c1"), 14, 15);
        var (_, rollbackError) = await scheduler.RollbackAsync(Range, SingleRangeStore.Epoch, [Key("c")], new Timestamp(24), CancellationToken.None).WaitAsync(Deadline);
        Assert.Null(rollbackError);
        await Write("c", MutationOp.Lock, ByteString.Empty, 26, 27);
        await Write("c", MutationOp.Put, Big("c2"), 50, 51);
        await Write("d", MutationOp.Put, Big("d1"), 52, 53);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => node.Dispose();

    private async Task Write(string key, MutationOp op, ByteString value, ulong start, ulong commit)
    {
        var (rangeError, errors) = await scheduler.PrewriteAsync(Range, SingleRangeStore.Epoch, [new Mutation { Op = op, Key = Key(key), Value = value }],
            Key(key), new Timestamp(start), 3000, [], CancellationToken.None).WaitAsync(Deadline);
        Assert.Null(rangeError);
        Assert.Empty(errors!);
        var (commitRangeError, commitError) = await scheduler.CommitAsync(Range, SingleRangeStore.Epoch, [Key(key)], new Timestamp(start), new Timestamp(commit), CancellationToken.None)
            .WaitAsync(Deadline);
        Assert.Null(commitRangeError);
        Assert.Null(commitError);
    }

    /// <summary>Every key's value at every ts from <paramref name="from"/> to 60 (null: absent).</summary>
    private Dictionary<(string, ulong), string?> ReadAll(ulong from)
    {
        var reader = new EngineMvccReader(node.Engine);
        var result = new Dictionary<(string, ulong), string?>();
        foreach (var key in Keys)
        {
            for (ulong ts = from; ts <= 60; ts++)
            {
                var (error, value) = TxnActions.Get(reader, Key(key).Span, new Timestamp(ts));
                Assert.Null(error);
                result[(key, ts)] = value is null ? null : Convert.ToHexString(value);
            }
        }

        return result;
    }

    private List<(string Key, ulong Ts)> Records(ColumnFamily cf)
    {
        var result = new List<(string, ulong)>();
        using var it = node.Engine.NewIterator(cf, TxnKeys.SpanLower([]), TxnKeys.End);
        for (var ok = it.SeekToFirst(); ok; ok = it.Next())
        {
            Assert.True(TxnKeys.TryDecodeVersionKey(it.Key, out var user, out var ts));
            result.Add((System.Text.Encoding.UTF8.GetString(user), ts.Value));
        }

        return result;
    }

    private async Task<int> CollectAllAsync(Timestamp safePoint)
    {
        int dropped = 0, batches = 0;
        int keysWithWrites = Records(ColumnFamily.Write).Select(r => r.Key).Distinct().Count();
        var cursor = ByteString.Empty;
        while (true)
        {
            var (rangeError, refused, n, resume) = await scheduler.CollectGarbageAsync(Range, SingleRangeStore.Epoch, safePoint, cursor, maxKeys: 1, CancellationToken.None)
                .WaitAsync(Deadline);
            Assert.Null(rangeError);
            Assert.Null(refused);
            dropped += n;
            batches++;
            if (resume is null)
            {
                Assert.True(batches >= keysWithWrites, "one key per batch: the batches are bounded");
                return dropped;
            }

            cursor = ByteString.CopyFrom(resume);
        }
    }

    [Fact]
    public async Task After_GC_reads_at_or_above_the_safe_point_are_unchanged_and_the_garbage_is_gone()
    {
        var safePoint = new Timestamp(40);
        var before = ReadAll(safePoint.Value);
        node.Store.ObserveGcSafePoint(safePoint);

        int dropped = await CollectAllAsync(safePoint);

        Assert.Equal(before, ReadAll(safePoint.Value));
        // a keeps 31; b keeps nothing (its newest is a delete); c keeps 15 and 51 (rollback at 24 and lock at 27 go); d keeps 53.
        Assert.Equal([("a", 31UL), ("c", 51UL), ("c", 15UL), ("d", 53UL)], Records(ColumnFamily.Write));
        Assert.Equal([("a", 30UL), ("c", 50UL), ("c", 14UL), ("d", 52UL)], Records(ColumnFamily.Default));
        Assert.Equal(6, dropped);

        // A second round finds nothing more.
        Assert.Equal(0, await CollectAllAsync(safePoint));
    }

    [Fact]
    public async Task GC_above_the_safe_point_the_store_knows_is_refused_and_drops_nothing()
    {
        node.Store.ObserveGcSafePoint(new Timestamp(20));
        var writes = Records(ColumnFamily.Write);
        var (rangeError, refused, dropped, _) = await scheduler.CollectGarbageAsync(Range, SingleRangeStore.Epoch, new Timestamp(40), ByteString.Empty, 10, CancellationToken.None)
            .WaitAsync(Deadline);
        Assert.Null(rangeError);
        Assert.Contains("publish the safe point first", refused, StringComparison.Ordinal);
        Assert.Equal(0, dropped);
        Assert.Equal(writes, Records(ColumnFamily.Write));
    }
}
