using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using static Kv.Node.Tests.Storage.Bytes;

namespace Kv.Node.Tests.Storage;

/// <summary>
/// Sizes count what is still in memtables: after writes and before any flush, a key span and the
/// store report their bytes (`kvctl range show` and `store list` showed 0 B until a flush).
/// </summary>
public sealed class ApproximateSizeTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Engine _engine;

    public ApproximateSizeTests() => _engine = Engine.Open(_dir.Sub("db"));

    public void Dispose()
    {
        _engine.Dispose();
        _dir.Dispose();
    }

    private void Fill(string prefix, int count, int valueBytes)
    {
        using var batch = _engine.NewWriteBatch();
        var value = new byte[valueBytes];
        var random = new Random(1);
        for (var i = 0; i < count; i++)
        {
            random.NextBytes(value);
            batch.Put(ColumnFamily.Default, Of($"{prefix}{i:D6}"), value);
        }

        _engine.Write(batch);
    }

    [Fact]
    public void Unflushed_writes_count_when_memtables_are_included_and_not_in_files_alone()
    {
        Fill("a/", 200, 1000); // ~200 KB, far below the write buffer: stays in the memtable

        var all = _engine.ApproximateSize(ColumnFamily.Default, Of("a/"), Of("a0"), SizeSources.All);
        var memtables = _engine.ApproximateSize(ColumnFamily.Default, Of("a/"), Of("a0"), SizeSources.Memtables);
        var files = _engine.ApproximateSize(ColumnFamily.Default, Of("a/"), Of("a0"), SizeSources.Files);

        Assert.InRange(all, 100_000UL, 1_000_000UL);
        Assert.Equal(all, memtables);

        // Negative control: SST files alone (what sizes used to be) see nothing before a flush.
        Assert.Equal(0UL, files);
        Assert.Equal(files, _engine.ApproximateSize(ColumnFamily.Default, Of("a/"), Of("a0")));

        // A span with no data is 0 either way.
        Assert.Equal(0UL, _engine.ApproximateSize(ColumnFamily.Default, Of("b/"), Of("b0"), SizeSources.All));
    }

    [Fact]
    public void After_a_flush_the_data_moves_from_memtables_to_files_and_the_total_stays()
    {
        Fill("a/", 200, 1000);
        _engine.Flush();

        Assert.Equal(0UL, _engine.ApproximateSize(ColumnFamily.Default, Of("a/"), Of("a0"), SizeSources.Memtables));
        Assert.InRange(_engine.ApproximateSize(ColumnFamily.Default, Of("a/"), Of("a0"), SizeSources.All), 100_000UL, 1_000_000UL);
    }

    [Fact]
    public void The_store_total_counts_unflushed_writes()
    {
        var before = _engine.ApproximateUsedBytes();
        Fill("a/", 200, 1000);
        var after = _engine.ApproximateUsedBytes();

        Assert.True(after >= before + 150_000, $"used bytes went from {before} to {after} after writing 200 KB without a flush");

        // Negative control: the SST total alone (what store stats used to send) has not moved.
        Assert.Equal(0L, _engine.GetLongProperty(ColumnFamily.Default, "rocksdb.total-sst-files-size"));
    }

    [Fact]
    public void Naming_no_source_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _engine.ApproximateSize(ColumnFamily.Default, Of("a"), Of("b"), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _engine.ApproximateSize(ColumnFamily.Default, Of("a"), Of("b"), (SizeSources)4));
    }
}
