using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using static Kv.Node.Tests.Storage.Bytes;

namespace Kv.Node.Tests.Storage;

public sealed class FilesAndMaintenanceTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Engine _engine;

    public FilesAndMaintenanceTests() => _engine = Engine.Open(_dir.Sub("db"));

    public void Dispose()
    {
        _engine.Dispose();
        _dir.Dispose();
    }

    private void Fill(ColumnFamily cf, string prefix, int count, int valueBytes)
    {
        using var batch = _engine.NewWriteBatch();
        var value = new byte[valueBytes];
        var random = new Random(1);
        for (var i = 0; i < count; i++)
        {
            random.NextBytes(value); // incompressible, so sizes mean something
            batch.Put(cf, Of($"{prefix}{i:D6}"), value);
        }

        _engine.Write(batch);
    }

    [Fact]
    public void A_checkpoint_is_a_consistent_openable_copy()
    {
        _engine.Put(ColumnFamily.Default, Of("before"), Of("1"));
        _engine.Put(ColumnFamily.Meta, Of("store-id"), Of("42"));
        _engine.CreateCheckpoint(_dir.Sub("cp"));
        _engine.Put(ColumnFamily.Default, Of("after"), Of("2"));

        using var copy = Engine.Open(_dir.Sub("cp"), new EngineOptions { CreateIfMissing = false });
        Assert.Equal("1", Str(copy.Get(ColumnFamily.Default, Of("before"))));
        Assert.Equal("42", Str(copy.Get(ColumnFamily.Meta, Of("store-id"))));
        Assert.Null(copy.Get(ColumnFamily.Default, Of("after")));
    }

    [Fact]
    public void A_checkpoint_into_an_existing_directory_is_refused()
    {
        Directory.CreateDirectory(_dir.Sub("exists"));
        var e = Assert.Throws<ArgumentException>(() => _engine.CreateCheckpoint(_dir.Sub("exists")));
        Assert.Contains("already exists", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sst_files_are_written_in_order_and_ingested_atomically()
    {
        var file = _dir.Sub("range.sst");
        using (var writer = _engine.NewSstFileWriter(ColumnFamily.Write, file))
        {
            writer.Put(Of("k1"), Of("v1"));
            writer.Put(Of("k2"), Of("v2"));
            writer.Delete(Of("k3"));
            Assert.True(writer.Finish() > 0);
            Assert.Throws<InvalidOperationException>(() => writer.Put(Of("k4"), Of("v4")));
        }

        _engine.Put(ColumnFamily.Write, Of("k3"), Of("older"));
        _engine.IngestExternalFiles(ColumnFamily.Write, [file]);
        Assert.Equal("v1", Str(_engine.Get(ColumnFamily.Write, Of("k1"))));
        Assert.Equal("v2", Str(_engine.Get(ColumnFamily.Write, Of("k2"))));
        Assert.Null(_engine.Get(ColumnFamily.Write, Of("k3"))); // the SST's deletion hides the older value
        Assert.Null(_engine.Get(ColumnFamily.Default, Of("k1")));
    }

    [Fact]
    public void Sst_keys_out_of_order_are_refused_with_rocksdb_s_message()
    {
        using var writer = _engine.NewSstFileWriter(ColumnFamily.Default, _dir.Sub("bad.sst"));
        writer.Put(Of("b"), Of("1"));
        var e = Assert.Throws<StorageException>(() => writer.Put(Of("a"), Of("2")));
        Assert.Equal(StorageErrorKind.InvalidArgument, e.Kind);
        Assert.NotNull(e.NativeMessage);
        Assert.Contains(e.NativeMessage!, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ingesting_a_missing_or_empty_list_is_refused()
    {
        Assert.Throws<FileNotFoundException>(() => _engine.IngestExternalFiles(ColumnFamily.Default, [_dir.Sub("none.sst")]));
        Assert.Throws<ArgumentException>(() => _engine.IngestExternalFiles(ColumnFamily.Default, []));
    }

    [Fact]
    public void Approximate_sizes_follow_the_data_after_a_flush()
    {
        Fill(ColumnFamily.Default, "a/", 2000, 1000);
        Fill(ColumnFamily.Default, "b/", 200, 1000);
        _engine.Flush();
        var a = _engine.ApproximateSize(ColumnFamily.Default, Of("a/"), Of("a0"));
        var b = _engine.ApproximateSize(ColumnFamily.Default, Of("b/"), Of("b0"));
        Assert.InRange(a, 1_500_000UL, 3_000_000UL);
        Assert.True(a > 5 * b, $"a={a} b={b}");
        Assert.Equal(0UL, _engine.ApproximateSize(ColumnFamily.Default, Of("c/"), Of("c0")));
    }

    [Fact]
    public void Compaction_reclaims_deleted_ranges()
    {
        Fill(ColumnFamily.Default, "a/", 2000, 1000);
        _engine.Flush();
        Assert.True(_engine.ApproximateSize(ColumnFamily.Default, Of("a/"), Of("a0")) > 1_000_000);
        _engine.DeleteRange(ColumnFamily.Default, Of("a/"), Of("a0"));
        _engine.Flush();
        _engine.CompactRange(ColumnFamily.Default);
        Assert.True(_engine.ApproximateSize(ColumnFamily.Default, Of("a/"), Of("a0")) < 100_000);
        Assert.Null(_engine.Get(ColumnFamily.Default, Of("a/000001")));
    }

    [Fact]
    public void Properties_and_statistics_are_readable()
    {
        Fill(ColumnFamily.Lock, "k", 100, 10);
        _engine.Flush();
        Assert.Equal(100, _engine.GetLongProperty(ColumnFamily.Lock, "rocksdb.estimate-num-keys"));
        Assert.Null(_engine.GetProperty(ColumnFamily.Lock, "rocksdb.no-such-property"));
        Assert.Contains("rocksdb.block.cache", _engine.GetStatistics(), StringComparison.Ordinal);
    }
}
