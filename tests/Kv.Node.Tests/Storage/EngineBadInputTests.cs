using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using static Kv.Node.Tests.Storage.Bytes;

namespace Kv.Node.Tests.Storage;

/// <summary>Every bad input gets a clear exception and changes nothing; none crashes the process.</summary>
public sealed class EngineBadInputTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Engine _engine;

    public EngineBadInputTests() => _engine = Engine.Open(_dir.Sub("db"), new EngineOptions { MaxValueBytes = 1 << 20, MaxKeyBytes = 1024 });

    public void Dispose()
    {
        _engine.Dispose();
        _dir.Dispose();
    }

    private long KeyCount()
    {
        using var it = _engine.NewIterator(ColumnFamily.Default);
        long n = 0;
        for (var ok = it.SeekToFirst(); ok; ok = it.Next())
        {
            n++;
        }

        return n;
    }

    [Fact]
    public void Empty_keys_are_refused_everywhere()
    {
        var e = Assert.Throws<ArgumentException>(() => _engine.Put(ColumnFamily.Default, [], Of("v")));
        Assert.Contains("must not be empty", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => _engine.Get(ColumnFamily.Default, []));
        Assert.Throws<ArgumentException>(() => _engine.Delete(ColumnFamily.Default, []));
        Assert.Throws<ArgumentException>(() => _engine.DeleteRange(ColumnFamily.Default, [], Of("z")));
        Assert.Equal(0, KeyCount());
    }

    [Fact]
    public void Oversized_keys_and_values_are_refused_and_nothing_is_written()
    {
        var key = Assert.Throws<ArgumentException>(() => _engine.Put(ColumnFamily.Default, new byte[1025], Of("v")));
        Assert.Contains("MaxKeyBytes", key.Message, StringComparison.Ordinal);
        var value = Assert.Throws<ArgumentException>(() => _engine.Put(ColumnFamily.Default, Of("k"), new byte[(1 << 20) + 1]));
        Assert.Contains("MaxValueBytes", value.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was written", value.Message, StringComparison.Ordinal);
        Assert.Equal(0, KeyCount());
        _engine.Put(ColumnFamily.Default, Of("k"), new byte[1 << 20]); // exactly at the limit is fine
        Assert.Equal(1, KeyCount());
    }

    [Fact]
    public void Unknown_column_families_are_refused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _engine.Put((ColumnFamily)5, Of("k"), Of("v")));
        Assert.Contains("default, lock, write, raft, meta", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => _engine.Get((ColumnFamily)(-1), Of("k")));
        Assert.Throws<ArgumentOutOfRangeException>(() => _engine.NewIterator((ColumnFamily)100));
    }

    [Fact]
    public void Reversed_ranges_are_refused()
    {
        _engine.Put(ColumnFamily.Default, Of("m"), Of("v"));
        Assert.Throws<ArgumentException>(() => _engine.DeleteRange(ColumnFamily.Default, Of("z"), Of("a")));
        Assert.Throws<ArgumentException>(() => _engine.DeleteRange(ColumnFamily.Default, Of("m"), Of("m")));
        Assert.Equal("v", Str(_engine.Get(ColumnFamily.Default, Of("m"))));
    }

    [Fact]
    public void A_closed_engine_says_it_is_closed()
    {
        using var dir = new TempDirectory();
        var engine = Engine.Open(dir.Path);
        engine.Dispose();
        engine.Dispose(); // idempotent
        var e = Assert.Throws<ObjectDisposedException>(() => engine.Put(ColumnFamily.Default, Of("k"), Of("v")));
        Assert.Contains("is closed", e.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => engine.Get(ColumnFamily.Default, Of("k")));
        Assert.Throws<ObjectDisposedException>(() => engine.NewIterator(ColumnFamily.Default));
        Assert.Throws<ObjectDisposedException>(() => engine.NewWriteBatch());
        Assert.Throws<ObjectDisposedException>(() => engine.GetSnapshot());
        Assert.Throws<ObjectDisposedException>(() => engine.Flush());
    }

    [Theory]
    [InlineData("")]
    [InlineData("bad\0name")]
    public void Invalid_column_family_names_are_refused_before_rocksdb_sees_them(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => Engine.Open(_dir.Sub("names"), new EngineOptions(), ["default", name]));
        Assert.Contains("invalid column family name", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.Sub("names")));
    }

    [Fact]
    public void Duplicate_or_missing_default_column_families_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Engine.Open(_dir.Sub("dup"), new EngineOptions(), ["default", "lock", "lock"]));
        Assert.Throws<ArgumentException>(() => Engine.Open(_dir.Sub("nodefault"), new EngineOptions(), ["lock"]));
    }

    [Fact]
    public void Invalid_options_are_refused_with_the_field_named()
    {
        var e = Assert.Throws<ArgumentException>(() => Engine.Open(_dir.Sub("o"), new EngineOptions { MaxBackgroundJobs = 0 }));
        Assert.Contains("MaxBackgroundJobs", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => Engine.Open(_dir.Sub("o"), new EngineOptions
        {
            ColumnFamilies = new Dictionary<ColumnFamily, ColumnFamilyOptions> { [ColumnFamily.Lock] = new() { WriteBufferBytes = 1 } },
        }));
        Assert.Contains("lock: WriteBufferBytes", e.Message, StringComparison.Ordinal);
    }
}
