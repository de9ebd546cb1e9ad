using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Kv.Node.Storage.Tools;

/// <summary>
/// <c>kv-node storage check</c>: proves that RocksDB loads and that a data directory's disk works,
/// by writing, syncing, closing, reopening and reading back a probe data set, and reports what it
/// measured. It only ever writes into an empty directory or one it made itself, never into a store.
/// </summary>
internal static class StorageCheck
{
    private static readonly byte[] ProbeMarker = "storage-check-probe"u8.ToArray();
    private const int Keys = 1000;

    public static int Run(string dataDir, TextWriter stdout, TextWriter stderr)
    {
        var full = Path.GetFullPath(dataDir);
        var isStore = File.Exists(Path.Combine(full, "CURRENT"));
        if (isStore ? !IsProbeStore(full) : Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            stderr.WriteLine($"{full} {(isStore ? "holds a store" : "is not empty")}; 'storage check' writes test data, so it refuses. Point --data-dir at an empty directory on the same disk.");
            return 3;
        }

        try
        {
            var sw = Stopwatch.StartNew();
            double syncMs;
            using (var engine = Engine.Open(full))
            {
                stdout.WriteLine($"opened       {full} in {sw.ElapsedMilliseconds} ms ({Engine.NativeLibrary})");
                engine.Put(ColumnFamily.Meta, ProbeMarker, "1"u8, sync: true);
                using var batch = engine.NewWriteBatch();
                for (var i = 0; i < Keys; i++)
                {
                    batch.Put(ColumnFamily.Default, Key(i), Value(i));
                }

                batch.Put(ColumnFamily.Raft, "probe/applied"u8, Encoding.ASCII.GetBytes(Keys.ToString(CultureInfo.InvariantCulture)));
                engine.Write(batch, sync: true);

                sw.Restart();
                const int syncs = 20;
                for (var i = 0; i < syncs; i++)
                {
                    engine.Put(ColumnFamily.Raft, "probe/sync"u8, Value(i), sync: true);
                }

                syncMs = sw.Elapsed.TotalMilliseconds / syncs;
                stdout.WriteLine($"wrote        {Keys} keys in one synced batch across column families; a synced put takes {syncMs:F2} ms on this disk");
            }

            sw.Restart();
            using var reopened = Engine.Open(full, new EngineOptions { CreateIfMissing = false });
            stdout.WriteLine($"reopened     in {sw.ElapsedMilliseconds} ms; column families: {string.Join(", ", Engine.ListColumnFamilies(full))}");
            for (var i = 0; i < Keys; i++)
            {
                var got = reopened.Get(ColumnFamily.Default, Key(i));
                if (got is null || !got.AsSpan().SequenceEqual(Value(i)))
                {
                    stderr.WriteLine($"key {i} did not read back as written after reopening: the disk or the library is not trustworthy");
                    return 1;
                }
            }

            int forward = 0, reverse = 0;
            using (var it = reopened.NewIterator(ColumnFamily.Default, Key(0), Key(Keys)))
            {
                for (var ok = it.SeekToFirst(); ok; ok = it.Next())
                {
                    forward++;
                }

                for (var ok = it.SeekToLast(); ok; ok = it.Prev())
                {
                    reverse++;
                }
            }

            stdout.WriteLine($"read back    {Keys} keys by get, {forward} by forward scan, {reverse} by reverse scan: all as written");
            reopened.Flush();
            stdout.WriteLine($"on disk      ~{reopened.ApproximateSize(ColumnFamily.Default, Key(0), Key(Keys)) / 1024} KiB in SST files, {reopened.GetLongProperty(ColumnFamily.Default, "rocksdb.estimate-num-keys")} keys estimated");
            stdout.WriteLine("storage check passed");
            return forward == Keys && reverse == Keys ? 0 : 1;
        }
        catch (StorageException e)
        {
            stderr.WriteLine(e.Message);
            return 1;
        }
    }

    private static bool IsProbeStore(string dir)
    {
        try
        {
            using var engine = Engine.Open(dir, new EngineOptions { CreateIfMissing = false });
            return engine.Get(ColumnFamily.Meta, ProbeMarker) is not null;
        }
        catch (StorageException)
        {
            return false;
        }
    }

    private static byte[] Key(int i) => Encoding.ASCII.GetBytes($"probe/{i:D6}");

    private static byte[] Value(int i) => Encoding.ASCII.GetBytes($"value-{i}-{new string('x', i % 100)}");
}
