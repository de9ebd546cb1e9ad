using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kv.Bench.Harness;
using Kv.Node.Storage;
using RocksDbSharp;
using StorageEngine = Kv.Node.Storage.Engine;

namespace Kv.Bench.Engine;

/// <summary>
/// kv-bench binding: which C# binding the engine should call the RocksDB package's librocksdb
/// through (issue 12). Three paths over the same library, in one process, taking turns run by run:
/// - engine: node/Storage as it is, its own [LibraryImport] declarations;
/// - sharp: the package's managed layer (RocksDbSharp.RocksDb, WriteBatch, Iterator), each
///   workload written with its least-allocating calls (span keys, span iterator accessors, a
///   span deserializer for gets);
/// - sharp-native: the package's low-level declarations (RocksDbSharp.Native.Instance), the
///   same C calls the engine makes, over the engine's own open database.
/// Workloads (default column family, 16-byte keys and 100-byte values as in the engine suite):
/// put (buffered single puts into a fresh store), get (random existing keys, value copied into a
/// buffer), batch (write batches of 16 puts, not synced, so the binding and not the disk is
/// timed), scan (forward iterator steps touching key and value). The stores of all paths are
/// opened with the options of <c>new EngineOptions()</c> for the default column family.
/// </summary>
internal static class BindingBench
{
    private static readonly string[] Paths = ["engine", "sharp", "sharp-native"];
    private static readonly string[] Workloads = ["put", "get", "batch", "scan"];

    public static int Run(string[] args)
    {
        var keys = 1 << 17;
        var runs = 5;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--keys": keys = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--runs": runs = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"usage: kv-bench binding [--keys N (power of two)] [--runs N]; unknown option {args[i]}");
                    return 2;
            }
        }

        var root = Path.Combine(Path.GetTempPath(), $"kv-bench-binding-{Environment.ProcessId}");
        try
        {
            var paths = new BindingPath[]
            {
                new EnginePath(Path.Combine(root, "engine"), keys),
                new SharpPath(Path.Combine(root, "sharp"), keys),
                new SharpNativePath(Path.Combine(root, "sharp-native"), keys),
            };
            // results[path][workload] = (wall ops/s, cpu ops/s) per run
            var results = paths.Select(_ => Workloads.Select(_ => new List<(double Wall, double Cpu)>()).ToArray()).ToArray();
            for (var run = -1; run < runs; run++)
            {
                for (var p = 0; p < paths.Length; p++)
                {
                    var path = (p + Math.Max(run, 0)) % paths.Length; // who goes first rotates
                    for (var w = 0; w < Workloads.Length; w++)
                    {
                        var r = paths[path].Run(Workloads[w]);
                        if (run >= 0)
                        {
                            results[path][w].Add(r);
                        }
                    }
                }
            }

            foreach (var path in paths)
            {
                path.Dispose();
            }

            Print(results, keys, runs);
            return 0;
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private static void Print(List<(double Wall, double Cpu)>[][] results, int keys, int runs)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"### binding: {string.Join(" / ", Paths)} over {StorageEngine.NativeLibrary}");
        // Both layers must have run on one and the same library file.
        var mapped = File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 6 && fields[5].Contains("librocksdb", StringComparison.Ordinal))
            .Select(fields => fields[5])
            .Distinct();
        s.AppendLine(CultureInfo.InvariantCulture, $"librocksdb files mapped by this process: {string.Join(", ", mapped)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"{keys:N0} keys, {runs} runs per path after a warm-up, medians; ops/s by wall time and by the issuing thread's CPU time");
        s.AppendLine();
        s.AppendLine("| workload | " + string.Join(" | ", Paths.Select(p => $"{p} ops/s | {p} ops/CPU-s")) + " | sharp vs engine (CPU) | sharp-native vs engine (CPU) |");
        s.AppendLine("|---|" + string.Concat(Paths.Select(_ => "--:|--:|")) + "--:|--:|");
        for (var w = 0; w < Workloads.Length; w++)
        {
            var wall = results.Select(r => Sample.Median(r[w].Select(x => x.Wall).ToArray())).ToArray();
            var cpu = results.Select(r => Sample.Median(r[w].Select(x => x.Cpu).ToArray())).ToArray();
            s.Append(CultureInfo.InvariantCulture, $"| {Workloads[w]} |");
            for (var p = 0; p < Paths.Length; p++)
            {
                s.Append(CultureInfo.InvariantCulture, $" {Sample.Format(wall[p])} | {Sample.Format(cpu[p])} |");
            }

            s.AppendLine(CultureInfo.InvariantCulture, $" {(cpu[1] / cpu[0]) - 1:+0.0%;-0.0%} | {(cpu[2] / cpu[0]) - 1:+0.0%;-0.0%} |");
        }

        Console.Write(s.ToString());
    }

    /// <summary>One binding under test: a store to read (loaded once) and fresh stores to write.</summary>
    private abstract class BindingPath : IDisposable
    {
        protected const int KeyBytes = 16;
        protected const int ValueBytes = 100;
        protected const int BatchSize = 16;
        protected const int ScanPasses = 4;

        private int _fresh;

        protected BindingPath(string directory, int keys)
        {
            Directory = directory;
            Keys = keys;
            System.IO.Directory.CreateDirectory(directory);
            "kvbench:"u8.CopyTo(Key);
            for (var i = 8; i < ValueBytes; i++)
            {
                Value[i] = (byte)('a' + (i % 26));
            }
        }

        protected string Directory { get; }

        protected int Keys { get; }

        protected byte[] Key { get; } = new byte[KeyBytes];

        protected byte[] Value { get; } = new byte[ValueBytes];

        protected byte[] Got { get; } = new byte[ValueBytes];

        public (double Wall, double Cpu) Run(string workload)
        {
            var ops = workload switch
            {
                "put" => Keys,
                "get" => 2 * Keys,
                "batch" => Keys / BatchSize,
                _ => ScanPasses * Keys,
            };
            string? fresh = null;
            if (workload is "put" or "batch")
            {
                fresh = Path.Combine(Directory, $"w{_fresh++}");
                OpenWrites(fresh);
            }

            var start = Stopwatch.GetTimestamp();
            var cpuStart = ThreadCpuTime.Seconds();
            var done = workload switch
            {
                "put" => Put(),
                "get" => Get(),
                "batch" => Batch(),
                _ => Scan(),
            };
            var elapsed = Stopwatch.GetElapsedTime(start);
            var cpu = ThreadCpuTime.Seconds() - cpuStart;
            if (done != ops)
            {
                throw new InvalidOperationException($"{GetType().Name} {workload} did {done} of {ops} operations");
            }

            if (fresh is not null)
            {
                CloseWrites();
                System.IO.Directory.Delete(fresh, recursive: true);
            }

            return (ops / elapsed.TotalSeconds, ops / cpu);
        }

        public abstract void Dispose();

        protected abstract void OpenWrites(string path);

        protected abstract void CloseWrites();

        protected abstract long Put();

        protected abstract long Get();

        protected abstract long Batch();

        protected abstract long Scan();

        protected void SetKeyAndValue(ulong index)
        {
            BinaryPrimitives.WriteUInt64BigEndian(Key.AsSpan(8), index);
            BinaryPrimitives.WriteUInt64BigEndian(Value, index);
        }

        protected void SetKey(ulong index) => BinaryPrimitives.WriteUInt64BigEndian(Key.AsSpan(8), index);

        protected ulong Mask => (ulong)Keys - 1;
    }

    /// <summary>node/Storage's Engine: its own LibraryImport declarations.</summary>
    private sealed class EnginePath : BindingPath
    {
        private readonly StorageEngine _reads;
        private StorageEngine? _writes;

        public EnginePath(string directory, int keys)
            : base(directory, keys)
        {
            _reads = StorageEngine.Open(Path.Combine(directory, "reads"));
            using var batch = _reads.NewWriteBatch();
            for (ulong i = 0; i < (ulong)keys; i++)
            {
                SetKeyAndValue(i);
                batch.Put(ColumnFamily.Default, Key, Value);
            }

            _reads.Write(batch);
            _reads.Flush();
            _reads.CompactRange(ColumnFamily.Default);
        }

        public StorageEngine Reads => _reads;

        public override void Dispose() => _reads.Dispose();

        protected override void OpenWrites(string path) => _writes = StorageEngine.Open(path);

        protected override void CloseWrites() => _writes!.Dispose();

        protected override long Put()
        {
            var engine = _writes!;
            for (ulong i = 0; i < (ulong)Keys; i++)
            {
                SetKeyAndValue(EngineWorkloads.PutIndex(i, Mask));
                engine.Put(ColumnFamily.Default, Key, Value);
            }

            return Keys;
        }

        protected override long Get()
        {
            long found = 0;
            for (ulong i = 0; i < 2 * (ulong)Keys; i++)
            {
                SetKey(EngineWorkloads.GetIndex(i, Mask));
                if (_reads.Get(ColumnFamily.Default, Key, Got) == ValueBytes)
                {
                    found++;
                }
            }

            return found;
        }

        protected override long Batch()
        {
            var engine = _writes!;
            using var batch = engine.NewWriteBatch();
            var batches = Keys / BatchSize;
            for (var b = 0; b < batches; b++)
            {
                batch.Clear();
                for (var j = 0; j < BatchSize; j++)
                {
                    SetKeyAndValue(EngineWorkloads.PutIndex((ulong)((b * BatchSize) + j), Mask));
                    batch.Put(ColumnFamily.Default, Key, Value);
                }

                engine.Write(batch);
            }

            return batches;
        }

        protected override long Scan()
        {
            long entries = 0;
            long touched = 0;
            for (var pass = 0; pass < ScanPasses; pass++)
            {
                using var it = _reads.NewIterator(ColumnFamily.Default);
                for (var ok = it.SeekToFirst(); ok; ok = it.Next())
                {
                    touched += it.Key[^1] + it.Value[^1];
                    entries++;
                }
            }

            GC.KeepAlive(touched);
            return entries;
        }
    }

    /// <summary>The package's managed layer.</summary>
    private sealed class SharpPath : BindingPath
    {
        private readonly RocksDb _reads;
        private readonly Cache _cache = Cache.CreateLru(128UL << 20);
        private readonly WriteOptions _writeOptions = new();
        private readonly ReadOptions _readOptions = new();
        private readonly CopyInto _copy;
        private RocksDb? _writes;

        public SharpPath(string directory, int keys)
            : base(directory, keys)
        {
            _copy = new CopyInto(Got);
            _reads = Open(Path.Combine(directory, "reads"));
            using var batch = new RocksDbSharp.WriteBatch();
            var cf = _reads.GetDefaultColumnFamily();
            for (ulong i = 0; i < (ulong)keys; i++)
            {
                SetKeyAndValue(i);
                batch.Put(Key.AsSpan(), Value.AsSpan(), cf);
            }

            _reads.Write(batch, _writeOptions);
            _reads.Flush(new FlushOptions().SetWaitForFlush(true));
            _reads.CompactRange(null, null, cf);
        }

        public override void Dispose() => _reads.Dispose();

        protected override void OpenWrites(string path) => _writes = Open(path);

        protected override void CloseWrites() => _writes!.Dispose();

        /// <summary>The default column family with the options node/Storage gives it (EngineOptions.DefaultFor).</summary>
        private RocksDb Open(string path)
        {
            var db = new DbOptions()
                .SetCreateIfMissing(true)
                .SetCreateMissingColumnFamilies(true)
                .SetParanoidChecks(true)
                .SetBytesPerSync(1 << 20)
                .SetKeepLogFileNum(5)
                .SetMaxLogFileSize(16 << 20)
                .EnableStatistics();
            Native.Instance.rocksdb_options_set_max_background_jobs(db.Handle, 2); // the managed layer has no setter for it
            var table = new BlockBasedTableOptions()
                .SetBlockCache(_cache)
                .SetCacheIndexAndFilterBlocks(true)
                .SetFilterPolicy(BloomFilterPolicy.Create(10, false));
            var cf = new RocksDbSharp.ColumnFamilyOptions()
                .SetWriteBufferSize(64UL << 20)
                .SetCompression(RocksDbSharp.Compression.Lz4)
                .SetLevelCompactionDynamicLevelBytes(true)
                .SetBlockBasedTableFactory(table);
            return RocksDb.Open(db, path, new ColumnFamilies(cf));
        }

        protected override long Put()
        {
            var db = _writes!;
            var cf = db.GetDefaultColumnFamily();
            for (ulong i = 0; i < (ulong)Keys; i++)
            {
                SetKeyAndValue(EngineWorkloads.PutIndex(i, Mask));
                db.Put(Key.AsSpan(), Value.AsSpan(), cf, _writeOptions);
            }

            return Keys;
        }

        protected override long Get()
        {
            var cf = _reads.GetDefaultColumnFamily();
            long found = 0;
            for (ulong i = 0; i < 2 * (ulong)Keys; i++)
            {
                SetKey(EngineWorkloads.GetIndex(i, Mask));
                if (_reads.Get(Key.AsSpan(), _copy, cf, _readOptions) == ValueBytes)
                {
                    found++;
                }
            }

            return found;
        }

        protected override long Batch()
        {
            var db = _writes!;
            var cf = db.GetDefaultColumnFamily();
            using var batch = new RocksDbSharp.WriteBatch();
            var batches = Keys / BatchSize;
            for (var b = 0; b < batches; b++)
            {
                batch.Clear();
                for (var j = 0; j < BatchSize; j++)
                {
                    SetKeyAndValue(EngineWorkloads.PutIndex((ulong)((b * BatchSize) + j), Mask));
                    batch.Put(Key.AsSpan(), Value.AsSpan(), cf);
                }

                db.Write(batch, _writeOptions);
            }

            return batches;
        }

        protected override long Scan()
        {
            var cf = _reads.GetDefaultColumnFamily();
            long entries = 0;
            long touched = 0;
            for (var pass = 0; pass < ScanPasses; pass++)
            {
                using var it = _reads.NewIterator(cf, _readOptions);
                for (it.SeekToFirst(); it.Valid(); it.Next())
                {
                    touched += it.GetKeySpan()[^1] + it.GetValueSpan()[^1];
                    entries++;
                }
            }

            GC.KeepAlive(touched);
            return entries;
        }

        /// <summary>Copies a value into a buffer and returns its length: the package's way to get without allocating.</summary>
        private sealed class CopyInto(byte[] destination) : ISpanDeserializer<int>
        {
            public int Deserialize(ReadOnlySpan<byte> buffer)
            {
                buffer[..Math.Min(buffer.Length, destination.Length)].CopyTo(destination);
                return buffer.Length;
            }
        }
    }

    /// <summary>The package's low-level declarations (Native.Instance) over an engine's open database.</summary>
    private sealed unsafe class SharpNativePath : BindingPath
    {
        private readonly EnginePath _engine; // owns the stores; this path only calls through other declarations
        private readonly Native _native = Native.Instance;
        private readonly nint _writeOptions;
        private readonly nint _readOptions;
        private StorageEngine? _writes;

        public SharpNativePath(string directory, int keys)
            : base(directory, keys)
        {
            _engine = new EnginePath(directory, keys);
            _writeOptions = _native.rocksdb_writeoptions_create();
            _readOptions = _native.rocksdb_readoptions_create();
        }

        public override void Dispose()
        {
            _native.rocksdb_writeoptions_destroy(_writeOptions);
            _native.rocksdb_readoptions_destroy(_readOptions);
            _engine.Dispose();
        }

        protected override void OpenWrites(string path) => _writes = StorageEngine.Open(path);

        protected override void CloseWrites() => _writes!.Dispose();

        protected override long Put()
        {
            var engine = _writes!;
            var cf = engine.CfHandle(ColumnFamily.Default);
            using var lease = engine.Enter();
            fixed (byte* k = Key)
            fixed (byte* v = Value)
            {
                for (ulong i = 0; i < (ulong)Keys; i++)
                {
                    SetKeyAndValue(EngineWorkloads.PutIndex(i, Mask));
                    _native.rocksdb_put_cf(lease.Db, _writeOptions, cf, k, KeyBytes, v, ValueBytes, out var err);
                    ThrowIf(err);
                }
            }

            return Keys;
        }

        protected override long Get()
        {
            var reads = _engine.Reads;
            var cf = reads.CfHandle(ColumnFamily.Default);
            using var lease = reads.Enter();
            long found = 0;
            fixed (byte* k = Key)
            {
                for (ulong i = 0; i < 2 * (ulong)Keys; i++)
                {
                    SetKey(EngineWorkloads.GetIndex(i, Mask));
                    var slice = _native.rocksdb_get_pinned_cf(lease.Db, _readOptions, cf, k, KeyBytes, out var err);
                    ThrowIf(err);
                    if (slice != 0)
                    {
                        var value = _native.rocksdb_pinnableslice_value(slice, out var length);
                        new ReadOnlySpan<byte>((void*)value, (int)length).CopyTo(Got);
                        _native.rocksdb_pinnableslice_destroy(slice);
                        found += (int)length == ValueBytes ? 1 : 0;
                    }
                }
            }

            return found;
        }

        protected override long Batch()
        {
            var engine = _writes!;
            var cf = engine.CfHandle(ColumnFamily.Default);
            using var lease = engine.Enter();
            var batch = _native.rocksdb_writebatch_create();
            var batches = Keys / BatchSize;
            fixed (byte* k = Key)
            fixed (byte* v = Value)
            {
                for (var b = 0; b < batches; b++)
                {
                    _native.rocksdb_writebatch_clear(batch);
                    for (var j = 0; j < BatchSize; j++)
                    {
                        SetKeyAndValue(EngineWorkloads.PutIndex((ulong)((b * BatchSize) + j), Mask));
                        _native.rocksdb_writebatch_put_cf(batch, cf, k, KeyBytes, v, ValueBytes);
                    }

                    _native.rocksdb_write(lease.Db, _writeOptions, batch, out var err);
                    ThrowIf(err);
                }
            }

            _native.rocksdb_writebatch_destroy(batch);
            return batches;
        }

        protected override long Scan()
        {
            var reads = _engine.Reads;
            var cf = reads.CfHandle(ColumnFamily.Default);
            using var lease = reads.Enter();
            long entries = 0;
            long touched = 0;
            for (var pass = 0; pass < ScanPasses; pass++)
            {
                var it = _native.rocksdb_create_iterator_cf(lease.Db, _readOptions, cf);
                for (_native.rocksdb_iter_seek_to_first(it); _native.rocksdb_iter_valid(it) != 0; _native.rocksdb_iter_next(it))
                {
                    var key = (byte*)_native.rocksdb_iter_key(it, out var keyLength);
                    var value = (byte*)_native.rocksdb_iter_value(it, out var valueLength);
                    touched += key[(int)keyLength - 1] + value[(int)valueLength - 1];
                    entries++;
                }

                _native.rocksdb_iter_destroy(it);
            }

            GC.KeepAlive(touched);
            return entries;
        }

        private static void ThrowIf(nint error)
        {
            if (error != 0)
            {
                throw new InvalidOperationException("RocksDB reported an error");
            }
        }
    }
}
