using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using static Kv.Node.Tests.Storage.Bytes;

namespace Kv.Node.Tests.Storage;

public sealed class IteratorAndSnapshotTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Engine _engine;

    public IteratorAndSnapshotTests()
    {
        _engine = Engine.Open(_dir.Path);
        foreach (var k in new[] { "a", "b", "c", "d", "e" })
        {
            _engine.Put(ColumnFamily.Default, Of(k), Of(k.ToUpperInvariant()));
        }
    }

    public void Dispose()
    {
        _engine.Dispose();
        _dir.Dispose();
    }

    private static List<string> Forward(EngineIterator it)
    {
        var keys = new List<string>();
        for (var ok = it.SeekToFirst(); ok; ok = it.Next())
        {
            keys.Add(Str(it.Key));
        }

        return keys;
    }

    private static List<string> Reverse(EngineIterator it)
    {
        var keys = new List<string>();
        for (var ok = it.SeekToLast(); ok; ok = it.Prev())
        {
            keys.Add(Str(it.Key));
        }

        return keys;
    }

    [Fact]
    public void Bounds_limit_both_directions_to_lower_inclusive_upper_exclusive()
    {
        using var it = _engine.NewIterator(ColumnFamily.Default, Of("b"), Of("e"));
        Assert.Equal(["b", "c", "d"], Forward(it));
        Assert.Equal(["d", "c", "b"], Reverse(it));
    }

    [Fact]
    public void Seek_and_seek_for_prev_land_on_the_nearest_entry_each_way()
    {
        _engine.Delete(ColumnFamily.Default, Of("c"));
        using var it = _engine.NewIterator(ColumnFamily.Default);
        Assert.True(it.Seek(Of("c")));
        Assert.Equal("d", Str(it.Key));
        Assert.Equal("D", Str(it.Value));
        Assert.True(it.SeekForPrev(Of("c")));
        Assert.Equal("b", Str(it.Key));
        Assert.False(it.Seek(Of("f")));
        Assert.False(it.SeekForPrev(Of("0")));
    }

    [Fact]
    public void An_iterator_reads_at_its_snapshot_and_ignores_later_writes()
    {
        using var snapshot = _engine.GetSnapshot();
        _engine.Put(ColumnFamily.Default, Of("c"), Of("changed"));
        _engine.Put(ColumnFamily.Default, Of("f"), Of("F"));
        _engine.Delete(ColumnFamily.Default, Of("a"));

        Assert.Equal("C", Str(_engine.Get(ColumnFamily.Default, Of("c"), snapshot)));
        Assert.Equal("A", Str(_engine.Get(ColumnFamily.Default, Of("a"), snapshot)));
        Assert.Null(_engine.Get(ColumnFamily.Default, Of("f"), snapshot));
        using var old = _engine.NewIterator(ColumnFamily.Default, snapshot: snapshot);
        Assert.Equal(["a", "b", "c", "d", "e"], Forward(old));
        using var now = _engine.NewIterator(ColumnFamily.Default);
        Assert.Equal(["b", "c", "d", "e", "f"], Forward(now));
    }

    [Fact]
    public void Using_an_iterator_off_an_entry_or_after_dispose_is_refused()
    {
        var it = _engine.NewIterator(ColumnFamily.Default);
        Assert.Throws<InvalidOperationException>(() => it.Key.Length);
        Assert.Throws<InvalidOperationException>(() => it.Next());
        Assert.True(it.SeekToFirst());
        it.Dispose();
        Assert.False(it.Valid);
        Assert.Throws<ObjectDisposedException>(() => it.Key.Length);
        Assert.Throws<ObjectDisposedException>(() => it.SeekToFirst());
        Assert.Throws<ObjectDisposedException>(() => it.Seek(Of("a")));
    }

    [Fact]
    public void Snapshots_of_another_engine_and_disposed_snapshots_are_refused()
    {
        using var otherDir = new TempDirectory();
        using var other = Engine.Open(otherDir.Path);
        using var foreign = other.GetSnapshot();
        Assert.Throws<ArgumentException>(() => _engine.Get(ColumnFamily.Default, Of("a"), foreign));
        Assert.Throws<ArgumentException>(() => _engine.NewIterator(ColumnFamily.Default, snapshot: foreign));

        var disposed = _engine.GetSnapshot();
        disposed.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _engine.Get(ColumnFamily.Default, Of("a"), disposed));
    }

    [Fact]
    public void An_iterator_refused_for_a_disposed_snapshot_leaves_the_engine_closable()
    {
        // Regression: a refusal inside the iterator's construction once kept its reference on
        // the database, so the directory stayed locked after the engine was disposed.
        var snapshot = _engine.GetSnapshot();
        snapshot.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => _engine.NewIterator(ColumnFamily.Default, snapshot: snapshot));
        Assert.Contains("snapshot was disposed", e.Message, StringComparison.Ordinal);
        _engine.Dispose();
        using var reopened = Engine.Open(_dir.Path);
        Assert.Equal("A", Str(reopened.Get(ColumnFamily.Default, Of("a"))));
    }

    [Fact]
    public void Inverted_bounds_are_refused()
    {
        Assert.Throws<ArgumentException>(() => _engine.NewIterator(ColumnFamily.Default, Of("z"), Of("a")));
    }

    [Fact]
    public void An_open_iterator_keeps_the_database_alive_after_the_engine_is_disposed()
    {
        // Memory safety: the iterator points into the database, so closing must wait for it.
        var it = _engine.NewIterator(ColumnFamily.Default);
        _engine.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _engine.Get(ColumnFamily.Default, Of("a")));
        Assert.Equal(["a", "b", "c", "d", "e"], Forward(it));

        // Until the iterator goes, the directory stays locked; then it opens again.
        var locked = Assert.Throws<StorageException>(() => Engine.Open(_dir.Path));
        Assert.Equal(StorageErrorKind.Locked, locked.Kind);
        it.Dispose();
        using var reopened = Engine.Open(_dir.Path);
        Assert.Equal("A", Str(reopened.Get(ColumnFamily.Default, Of("a"))));
    }
}
