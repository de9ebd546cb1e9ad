using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using static Kv.Node.Tests.Storage.Bytes;

namespace Kv.Node.Tests.Storage.Fixtures;

/// <summary>
/// A data directory written by the previous release (Debian's librocksdb 7.8.3) opens with the
/// engine's current library and reads back exactly (issue 12; docs/UPGRADING.md).
///
/// rocksdb-7.8-store was written once, through the Engine of that release with
/// <c>new EngineOptions()</c>, by the generator in README.md next to it:
/// 1. one write batch of CF/000 .. CF/024 in each of the five column families, then a flush, so
///    those keys are in 7.8 SST files (lz4-compressed in default and write, plain in the others);
/// 2. single synced puts of CF/025 .. CF/039, a delete of CF/003 in each family, a range delete of
///    030 .. 034 in default and raft, and an overwrite of meta/010: these are only in the 7.8 WAL,
///    which the open replays (the delete of 003 shadows a value in an SST file).
/// Opening may rewrite files (WAL recovery flushes, new OPTIONS and MANIFEST), so every test
/// opens a copy in a temporary directory, never the fixture itself.
/// </summary>
public sealed class PreviousReleaseStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public PreviousReleaseStoreTests()
    {
        var fixture = Path.Combine(AppContext.BaseDirectory, "Storage", "Fixtures", "rocksdb-7.8-store");
        foreach (var file in Directory.GetFiles(fixture))
        {
            File.Copy(file, Path.Combine(_dir.Path, Path.GetFileName(file)));
        }
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>The keys and values each family holds, in key order, as the generator left them.</summary>
    private static List<(string Key, string Value)> Expected(ColumnFamily cf)
    {
        var name = ColumnFamilyNames.Of(cf);
        var rangeDeleted = cf is ColumnFamily.Default or ColumnFamily.Raft;
        var expected = new List<(string, string)>();
        for (var i = 0; i < 40; i++)
        {
            if (i == 3 || (rangeDeleted && i is >= 30 and < 35))
            {
                continue;
            }

            var value = cf == ColumnFamily.Meta && i == 10
                ? "meta value 010 rewritten"
                : $"{name} value {i:D3} " + new string((char)('a' + (i % 26)), 200);
            expected.Add(($"{name}/{i:D3}", value));
        }

        return expected;
    }

    private static void AssertReadsEverything(Engine engine)
    {
        foreach (var cf in Enum.GetValues<ColumnFamily>())
        {
            var expected = Expected(cf);
            foreach (var (key, value) in expected)
            {
                Assert.Equal(value, Str(engine.Get(cf, Of(key))));
            }

            var name = ColumnFamilyNames.Of(cf);
            Assert.Null(engine.Get(cf, Of($"{name}/003")));
            var forward = new List<(string, string)>();
            using (var it = engine.NewIterator(cf))
            {
                for (var ok = it.SeekToFirst(); ok; ok = it.Next())
                {
                    forward.Add((Str(it.Key), Str(it.Value)));
                }
            }

            Assert.Equal(expected, forward);
            var reverse = new List<(string, string)>();
            using (var it = engine.NewIterator(cf))
            {
                for (var ok = it.SeekToLast(); ok; ok = it.Prev())
                {
                    reverse.Add((Str(it.Key), Str(it.Value)));
                }
            }

            expected.Reverse();
            Assert.Equal(expected, reverse);
        }
    }

    [Fact]
    public void The_store_has_the_five_column_families()
    {
        Assert.Equal(new[] { "default", "lock", "meta", "raft", "write" }, Engine.ListColumnFamilies(_dir.Path).Order());
    }

    [Fact]
    public void Every_key_the_previous_release_wrote_reads_back_from_its_SST_files_and_its_WAL()
    {
        using var engine = Engine.Open(_dir.Path, new EngineOptions { CreateIfMissing = false });
        AssertReadsEverything(engine);
        Assert.Null(engine.Get(ColumnFamily.Default, Of("default/031")));
        Assert.Null(engine.Get(ColumnFamily.Raft, Of("raft/034")));
        Assert.Equal("lock value 031 " + new string('f', 200), Str(engine.Get(ColumnFamily.Lock, Of("lock/031"))));
    }

    [Fact]
    public void The_store_takes_writes_and_a_full_compaction_then_reopens_with_everything()
    {
        // 1. open the old store, write to it, flush, and compact every family (rewriting its SST files)
        using (var engine = Engine.Open(_dir.Path, new EngineOptions { CreateIfMissing = false }))
        {
            engine.Put(ColumnFamily.Write, Of("write/100"), Of("after the upgrade"), sync: true);
            engine.Flush();
            foreach (var cf in Enum.GetValues<ColumnFamily>())
            {
                engine.CompactRange(cf);
            }
        }

        // 2. reopen and read every old key and the new one
        using var reopened = Engine.Open(_dir.Path, new EngineOptions { CreateIfMissing = false });
        Assert.Equal("after the upgrade", Str(reopened.Get(ColumnFamily.Write, Of("write/100"))));
        reopened.Delete(ColumnFamily.Write, Of("write/100"), sync: true);
        AssertReadsEverything(reopened);
    }
}
