using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using static Kv.Node.Tests.Storage.Bytes;

namespace Kv.Node.Tests.Storage;

/// <summary>Opening a directory that cannot be used gives a clear error, never a crash.</summary>
public sealed class EngineOpenFailureTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_directory_open_in_this_process_is_locked()
    {
        using var first = Engine.Open(_dir.Path);
        var e = Assert.Throws<StorageException>(() => Engine.Open(_dir.Path));
        Assert.Equal(StorageErrorKind.Locked, e.Kind);
        Assert.Contains(_dir.Path, e.Message, StringComparison.Ordinal);
        Assert.Contains("different data directory", e.Message, StringComparison.Ordinal);
        first.Put(ColumnFamily.Default, Of("still"), Of("works"));
    }

    [Fact]
    public void A_path_that_is_a_file_is_refused()
    {
        File.WriteAllText(_dir.Sub("file"), "x");
        var e = Assert.Throws<StorageException>(() => Engine.Open(_dir.Sub("file")));
        Assert.Contains("not a directory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Opening_without_create_where_no_store_exists_is_refused_and_creates_nothing()
    {
        var e = Assert.Throws<StorageException>(() => Engine.Open(_dir.Sub("none"), new EngineOptions { CreateIfMissing = false }));
        Assert.Contains("no store exists", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.Sub("none")));
    }

    [Fact]
    public void A_garbled_CURRENT_file_is_reported_as_corruption()
    {
        // 1. create a store, 2. corrupt its manifest pointer, 3. open: a clear Corruption error.
        using (var engine = Engine.Open(_dir.Path))
        {
            engine.Put(ColumnFamily.Default, Of("k"), Of("v"), sync: true);
        }

        File.WriteAllText(Path.Combine(_dir.Path, "CURRENT"), "MANIFEST-999999\n");
        var e = Assert.Throws<StorageException>(() => Engine.Open(_dir.Path));
        Assert.Contains(_dir.Path, e.Message, StringComparison.Ordinal);
        Assert.NotNull(e.NativeMessage);
        Assert.True(e.Kind is StorageErrorKind.Corruption or StorageErrorKind.IOError, $"{e.Kind}: {e.Message}");
    }

    [Fact]
    public void A_damaged_sst_block_is_reported_as_corruption_not_returned_as_data()
    {
        // 1. write and flush so values live in an SST file, 2. flip bytes in its data blocks,
        // 3. reopen and read: RocksDB's block checksums catch it and the error surfaces.
        var value = new byte[100];
        using (var engine = Engine.Open(_dir.Path, new EngineOptions { ColumnFamilies = new Dictionary<ColumnFamily, ColumnFamilyOptions> { [ColumnFamily.Default] = new() { Compression = Compression.None } } }))
        {
            for (var i = 0; i < 1000; i++)
            {
                Array.Fill(value, (byte)i);
                engine.Put(ColumnFamily.Default, Of($"k{i:D4}"), value);
            }

            engine.Flush();
        }

        var sst = Directory.GetFiles(_dir.Path, "*.sst").OrderByDescending(f => new FileInfo(f).Length).First();
        using (var f = File.Open(sst, FileMode.Open, FileAccess.ReadWrite))
        {
            for (long at = 64; at < f.Length / 2; at += 512)
            {
                f.Position = at;
                f.WriteByte(0xFF);
                f.WriteByte(0x00);
            }
        }

        using var reopened = Engine.Open(_dir.Path);
        var errors = 0;
        for (var i = 0; i < 1000; i++)
        {
            try
            {
                var got = reopened.Get(ColumnFamily.Default, Of($"k{i:D4}"));
                Assert.True(got is null || got.All(b => b == (byte)i), $"k{i:D4} returned damaged data");
            }
            catch (StorageException e)
            {
                Assert.Equal(StorageErrorKind.Corruption, e.Kind);
                Assert.Contains("rebuild it from a replica", e.Message, StringComparison.Ordinal);
                errors++;
            }
        }

        Assert.True(errors > 0, "no read noticed the damage");
    }
}
