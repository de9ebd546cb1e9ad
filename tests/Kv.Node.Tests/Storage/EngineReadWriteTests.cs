using System.Buffers;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using static Kv.Node.Tests.Storage.Bytes;

namespace Kv.Node.Tests.Storage;

public sealed class EngineReadWriteTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Engine _engine;

    public EngineReadWriteTests() => _engine = Engine.Open(_dir.Path);

    public void Dispose()
    {
        _engine.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void Opening_creates_every_column_family_of_the_design()
    {
        Assert.Equal(new[] { "default", "lock", "meta", "raft", "write" }, Engine.ListColumnFamilies(_dir.Path).Order());
    }

    [Fact]
    public void Column_families_are_separate_key_spaces()
    {
        _engine.Put(ColumnFamily.Default, Of("k"), Of("in-default"));
        _engine.Put(ColumnFamily.Lock, Of("k"), Of("in-lock"));
        Assert.Equal("in-default", Str(_engine.Get(ColumnFamily.Default, Of("k"))));
        Assert.Equal("in-lock", Str(_engine.Get(ColumnFamily.Lock, Of("k"))));
        Assert.Null(_engine.Get(ColumnFamily.Write, Of("k")));
    }

    [Fact]
    public void Get_into_a_span_reports_absence_and_the_full_length()
    {
        _engine.Put(ColumnFamily.Default, Of("k"), Of("0123456789"));
        Span<byte> small = stackalloc byte[4];
        Assert.Equal(10, _engine.Get(ColumnFamily.Default, Of("k"), small));
        Assert.Equal("0123", Str(small));
        Assert.Equal(-1, _engine.Get(ColumnFamily.Default, Of("absent"), small));
    }

    [Fact]
    public void TryGet_appends_to_a_buffer_writer()
    {
        _engine.Put(ColumnFamily.Meta, Of("k"), Of("value"));
        var buffer = new ArrayBufferWriter<byte>();
        Assert.True(_engine.TryGet(ColumnFamily.Meta, Of("k"), buffer));
        Assert.False(_engine.TryGet(ColumnFamily.Meta, Of("nope"), buffer));
        Assert.Equal("value", Str(buffer.WrittenSpan));
    }

    [Fact]
    public void Empty_values_are_values_not_absence()
    {
        _engine.Put(ColumnFamily.Default, Of("k"), ReadOnlySpan<byte>.Empty, sync: true);
        Assert.Equal(Array.Empty<byte>(), _engine.Get(ColumnFamily.Default, Of("k")));
        Assert.Equal(0, _engine.Get(ColumnFamily.Default, Of("k"), Span<byte>.Empty));
    }

    [Fact]
    public void Delete_and_delete_range_remove_exactly_what_they_name()
    {
        foreach (var k in new[] { "a", "b", "c", "d", "e" })
        {
            _engine.Put(ColumnFamily.Write, Of(k), Of(k));
        }

        _engine.Delete(ColumnFamily.Write, Of("a"));
        _engine.DeleteRange(ColumnFamily.Write, Of("b"), Of("d"), sync: true);
        Assert.Null(_engine.Get(ColumnFamily.Write, Of("a")));
        Assert.Null(_engine.Get(ColumnFamily.Write, Of("b")));
        Assert.Null(_engine.Get(ColumnFamily.Write, Of("c")));
        Assert.Equal("d", Str(_engine.Get(ColumnFamily.Write, Of("d"))));
        Assert.Equal("e", Str(_engine.Get(ColumnFamily.Write, Of("e"))));
    }

    [Fact]
    public void Large_values_round_trip()
    {
        var big = new byte[16 << 20];
        new Random(7).NextBytes(big);
        _engine.Put(ColumnFamily.Default, Of("big"), big, sync: true);
        Assert.Equal(big, _engine.Get(ColumnFamily.Default, Of("big")));
    }

    [Fact]
    public void Data_survives_close_and_reopen()
    {
        _engine.Put(ColumnFamily.Raft, Of("log/1"), Of("entry"), sync: true);
        _engine.Dispose();
        using var reopened = Engine.Open(_dir.Path, new EngineOptions { CreateIfMissing = false });
        Assert.Equal("entry", Str(reopened.Get(ColumnFamily.Raft, Of("log/1"))));
    }

    [Fact]
    public async Task Concurrent_readers_and_writers_see_consistent_values()
    {
        var writers = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 2000; i++)
            {
                _engine.Put(ColumnFamily.Default, Of($"t{t}/{i:D5}"), Of($"{t}:{i}"));
                Assert.Equal($"{t}:{i}", Str(_engine.Get(ColumnFamily.Default, Of($"t{t}/{i:D5}"))));
            }
        })).ToArray();
        await Task.WhenAll(writers);
        Assert.Equal("3:1999", Str(_engine.Get(ColumnFamily.Default, Of("t3/01999"))));
    }
}
