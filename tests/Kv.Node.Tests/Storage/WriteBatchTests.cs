using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using static Kv.Node.Tests.Storage.Bytes;

namespace Kv.Node.Tests.Storage;

public sealed class WriteBatchTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Engine _engine;

    public WriteBatchTests() => _engine = Engine.Open(_dir.Path);

    public void Dispose()
    {
        _engine.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void A_batch_spans_column_families_and_is_invisible_until_written()
    {
        _engine.Put(ColumnFamily.Default, Of("gone"), Of("x"));
        using var batch = _engine.NewWriteBatch();
        batch.Put(ColumnFamily.Default, Of("v"), Of("value"));
        batch.Put(ColumnFamily.Lock, Of("v"), Of("lock"));
        batch.Put(ColumnFamily.Raft, Of("applied"), Of("7"));
        batch.Delete(ColumnFamily.Default, Of("gone"));
        Assert.Equal(4, batch.Count);
        Assert.True(batch.DataSize > 0);
        Assert.Null(_engine.Get(ColumnFamily.Lock, Of("v")));

        _engine.Write(batch, sync: true);
        Assert.Equal("value", Str(_engine.Get(ColumnFamily.Default, Of("v"))));
        Assert.Equal("lock", Str(_engine.Get(ColumnFamily.Lock, Of("v"))));
        Assert.Equal("7", Str(_engine.Get(ColumnFamily.Raft, Of("applied"))));
        Assert.Null(_engine.Get(ColumnFamily.Default, Of("gone")));
    }

    [Fact]
    public void A_cleared_batch_is_reused()
    {
        using var batch = _engine.NewWriteBatch();
        batch.Put(ColumnFamily.Default, Of("a"), Of("1"));
        batch.Clear();
        Assert.Equal(0, batch.Count);
        batch.Put(ColumnFamily.Default, Of("b"), Of("2"));
        batch.DeleteRange(ColumnFamily.Write, Of("a"), Of("z"));
        _engine.Write(batch);
        Assert.Null(_engine.Get(ColumnFamily.Default, Of("a")));
        Assert.Equal("2", Str(_engine.Get(ColumnFamily.Default, Of("b"))));
    }

    [Fact]
    public void A_refused_entry_leaves_the_batch_as_it_was()
    {
        using var batch = _engine.NewWriteBatch();
        batch.Put(ColumnFamily.Default, Of("a"), Of("1"));
        Assert.Throws<ArgumentException>(() => batch.Put(ColumnFamily.Default, [], Of("x")));
        Assert.Throws<ArgumentException>(() => batch.DeleteRange(ColumnFamily.Default, Of("z"), Of("a")));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Put((ColumnFamily)9, Of("a"), Of("x")));
        Assert.Equal(1, batch.Count);
    }

    [Fact]
    public void A_batch_from_another_engine_is_refused()
    {
        using var otherDir = new TempDirectory();
        using var other = Engine.Open(otherDir.Path);
        using var batch = other.NewWriteBatch();
        batch.Put(ColumnFamily.Default, Of("a"), Of("1"));
        var e = Assert.Throws<ArgumentException>(() => _engine.Write(batch));
        Assert.Contains("another engine", e.Message, StringComparison.Ordinal);
        Assert.Null(_engine.Get(ColumnFamily.Default, Of("a")));
    }

    [Fact]
    public void A_disposed_batch_says_so()
    {
        var batch = _engine.NewWriteBatch();
        batch.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => batch.Put(ColumnFamily.Default, Of("a"), Of("1")));
        Assert.Contains("disposed", e.Message, StringComparison.Ordinal);
    }
}
