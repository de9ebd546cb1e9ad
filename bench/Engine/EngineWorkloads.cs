using System.Buffers.Binary;
using System.Diagnostics;
using Kv.Bench.Harness;
using Kv.Node.Storage;
using Kv.Node.Storage.Native;
using StorageEngine = Kv.Node.Storage.Engine;

namespace Kv.Bench.Engine;

/// <summary>The shape of one benchmark run; the C peer gets the same numbers on its command line.</summary>
internal sealed record EngineBenchConfig
{
    /// <summary>Keys written by a put run and loaded for reads; a power of two (the key orders are permutations mod 2^k).</summary>
    public int Keys { get; init; } = 1 << 18;

    public int GetOps { get; init; } = 1 << 18;

    public int Batches { get; init; } = 300;

    public int BatchSize { get; init; } = 16;

    /// <summary>Passes over all keys per scan run, so one run lasts long enough to time on a noisy machine.</summary>
    public int ScanPasses { get; init; } = 8;

    public int Runs { get; init; } = 5;

    public int Warmups { get; init; } = 1;

    /// <summary>Arguments that give bench/c/engine_bench the same shape.</summary>
    public IEnumerable<string> PeerArguments() =>
    [
        "--keys", Keys.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--get-ops", GetOps.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--batches", Batches.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--batch-size", BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--scan-passes", ScanPasses.ToString(System.Globalization.CultureInfo.InvariantCulture),
    ];
}

/// <summary>
/// One timed run of one workload: operations per second of wall time and of the issuing thread's
/// CPU time (<see cref="ThreadCpuTime"/>), and one operation's median latency where measured (else NaN).
/// </summary>
internal readonly record struct WorkloadResult(double OpsPerSecond, double OpsPerCpuSecond, double P50Micros);

/// <summary>
/// The C# side of the engine suite: the workloads of bench/c/engine_bench.c, function for function,
/// over <see cref="StorageEngine"/> with <c>new EngineOptions()</c> (what the node uses). Keys are
/// 16 bytes ("kvbench:" and the big-endian index), values 100 bytes (the big-endian index and a fixed
/// filler); key orders come from <see cref="PutIndex"/> and <see cref="GetIndex"/>, which the C file
/// repeats. Hot loops reuse the buffers below and allocate nothing.
/// </summary>
internal sealed class EngineWorkloads : IDisposable
{
    private const int KeyBytes = 16;
    private const int ValueBytes = 100;

    private readonly EngineBenchConfig _config;
    private readonly string _directory;
    private readonly StorageEngine _reads; // loaded once, flushed and compacted: gets and scans read it
    private readonly StorageEngine _syncs; // batch-sync runs overwrite the same keys here
    private readonly byte[] _key = new byte[KeyBytes];
    private readonly byte[] _value = new byte[ValueBytes];
    private readonly byte[] _got = new byte[ValueBytes];
    private readonly long[] _latencyTicks;
    private int _putDirectories;

    public EngineWorkloads(EngineBenchConfig config, string directory)
    {
        _config = config;
        _directory = directory;
        _latencyTicks = new long[config.Batches];
        "kvbench:"u8.CopyTo(_key);
        for (var i = 8; i < ValueBytes; i++)
        {
            _value[i] = (byte)('a' + (i % 26));
        }

        Directory.CreateDirectory(directory);
        _reads = StorageEngine.Open(System.IO.Path.Combine(directory, "reads"));
        _syncs = StorageEngine.Open(System.IO.Path.Combine(directory, "syncs"));
        Load();
    }

    /// <summary>The directory of the store that gets and scans read (its OPTIONS file is compared with the C peer's).</summary>
    public string ReadStorePath => _reads.Path;

    public WorkloadResult Run(string workload) => workload switch
    {
        "put" => Put(),
        "get" => Get(),
        "batch-sync" => BatchSync(),
        "scan-forward" => Scan(forward: true),
        "scan-reverse" => Scan(forward: false),
        "scan-forward-raw" => ScanRaw(),
        _ => throw new ArgumentException($"unknown workload '{workload}'", nameof(workload)),
    };

    public void Dispose()
    {
        _syncs.Dispose();
        _reads.Dispose();
    }

    /// <summary>The i-th key a put run writes: a permutation of [0, keys), as put_index in engine_bench.c.</summary>
    internal static ulong PutIndex(ulong i, ulong mask) => (i * 0x9E3779B97F4A7C15UL) & mask;

    /// <summary>The i-th key a get run reads: splitmix64 of i, as get_index in engine_bench.c.</summary>
    internal static ulong GetIndex(ulong i, ulong mask)
    {
        var z = i + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (z ^ (z >> 31)) & mask;
    }

    private void SetKey(ulong index) => BinaryPrimitives.WriteUInt64BigEndian(_key.AsSpan(8), index);

    private void SetValue(ulong index) => BinaryPrimitives.WriteUInt64BigEndian(_value, index);

    /// <summary>Buffered puts (no sync) of every key, in put order, into a fresh store.</summary>
    private WorkloadResult Put()
    {
        var path = System.IO.Path.Combine(_directory, $"put-{_putDirectories++}");
        var mask = (ulong)_config.Keys - 1;
        var keys = (ulong)_config.Keys;
        TimeSpan elapsed;
        double cpu;
        using (var engine = StorageEngine.Open(path))
        {
            var start = Stopwatch.GetTimestamp();
            var cpuStart = ThreadCpuTime.Seconds();
            for (ulong i = 0; i < keys; i++)
            {
                var k = PutIndex(i, mask);
                SetKey(k);
                SetValue(k);
                engine.Put(ColumnFamily.Default, _key, _value);
            }

            elapsed = Stopwatch.GetElapsedTime(start);
            cpu = ThreadCpuTime.Seconds() - cpuStart;
        }

        Directory.Delete(path, recursive: true);
        return new WorkloadResult(keys / elapsed.TotalSeconds, keys / cpu, double.NaN);
    }

    /// <summary>Pinned gets of random existing keys, each value copied into a buffer.</summary>
    private WorkloadResult Get()
    {
        var mask = (ulong)_config.Keys - 1;
        var ops = (ulong)_config.GetOps;
        ulong found = 0;
        var start = Stopwatch.GetTimestamp();
        var cpuStart = ThreadCpuTime.Seconds();
        for (ulong i = 0; i < ops; i++)
        {
            SetKey(GetIndex(i, mask));
            if (_reads.Get(ColumnFamily.Default, _key, _got) >= 0)
            {
                found++;
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(start);
        var cpu = ThreadCpuTime.Seconds() - cpuStart;
        if (found != ops)
        {
            throw new InvalidOperationException($"get found {found} of {ops} keys");
        }

        return new WorkloadResult(ops / elapsed.TotalSeconds, ops / cpu, double.NaN);
    }

    /// <summary>Batches of BatchSize puts written with sync; ops are batches, p50 is one batch's latency.</summary>
    private WorkloadResult BatchSync()
    {
        var mask = (ulong)_config.Keys - 1;
        var batchSize = (ulong)_config.BatchSize;
        using var batch = _syncs.NewWriteBatch();
        var start = Stopwatch.GetTimestamp();
        var cpuStart = ThreadCpuTime.Seconds();
        for (var b = 0; b < _config.Batches; b++)
        {
            var t0 = Stopwatch.GetTimestamp();
            batch.Clear();
            for (ulong j = 0; j < batchSize; j++)
            {
                var k = PutIndex(((ulong)b * batchSize) + j, mask);
                SetKey(k);
                SetValue(k);
                batch.Put(ColumnFamily.Default, _key, _value);
            }

            _syncs.Write(batch, sync: true);
            _latencyTicks[b] = Stopwatch.GetTimestamp() - t0;
        }

        var elapsed = Stopwatch.GetElapsedTime(start);
        var cpu = ThreadCpuTime.Seconds() - cpuStart;
        Array.Sort(_latencyTicks);
        var p50 = _latencyTicks[((_latencyTicks.Length + 1) / 2) - 1] * 1e6 / Stopwatch.Frequency;
        return new WorkloadResult(_config.Batches / elapsed.TotalSeconds, _config.Batches / cpu, p50);
    }

    /// <summary>ScanPasses passes over every entry, forward or backward, touching each key and value.</summary>
    private WorkloadResult Scan(bool forward)
    {
        long entries = 0;
        ulong touched = 0;
        var start = Stopwatch.GetTimestamp();
        var cpuStart = ThreadCpuTime.Seconds();
        for (var pass = 0; pass < _config.ScanPasses; pass++)
        {
            using var it = _reads.NewIterator(ColumnFamily.Default);
            var on = forward ? it.SeekToFirst() : it.SeekToLast();
            while (on)
            {
                var key = it.Key;
                var value = it.Value;
                touched += (ulong)(key[^1] + value[^1] + key.Length + value.Length);
                entries++;
                on = forward ? it.Next() : it.Prev();
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(start);
        var cpu = ThreadCpuTime.Seconds() - cpuStart;
        if (entries != (long)_config.Keys * _config.ScanPasses || touched == 0)
        {
            throw new InvalidOperationException($"scan saw {entries} entries, expected {(long)_config.Keys * _config.ScanPasses}");
        }

        return new WorkloadResult(entries / elapsed.TotalSeconds, entries / cpu, double.NaN);
    }

    /// <summary>
    /// The forward scan straight over the P/Invoke declarations, without <see cref="EngineIterator"/>:
    /// the floor any .NET binding of this C API has. Not in the default set; it separates what the
    /// binding's own code costs from what calling the C API from .NET costs.
    /// </summary>
    private unsafe WorkloadResult ScanRaw()
    {
        long entries = 0;
        ulong touched = 0;
        using var lease = _reads.Enter();
        var cf = _reads.CfHandle(ColumnFamily.Default);
        var readOptions = NativeMethods.rocksdb_readoptions_create();
        var start = Stopwatch.GetTimestamp();
        var cpuStart = ThreadCpuTime.Seconds();
        for (var pass = 0; pass < _config.ScanPasses; pass++)
        {
            var it = NativeMethods.rocksdb_create_iterator_cf(lease.Db, readOptions, cf);
            NativeMethods.rocksdb_iter_seek_to_first(it);
            while (NativeMethods.rocksdb_iter_valid(it) != 0)
            {
                nuint keyLength, valueLength;
                var key = NativeMethods.rocksdb_iter_key(it, &keyLength);
                var value = NativeMethods.rocksdb_iter_value(it, &valueLength);
                touched += (ulong)(key[keyLength - 1] + value[valueLength - 1]) + keyLength + valueLength;
                entries++;
                NativeMethods.rocksdb_iter_next(it);
            }

            NativeMethods.rocksdb_iter_destroy(it);
        }

        var elapsed = Stopwatch.GetElapsedTime(start);
        var cpu = ThreadCpuTime.Seconds() - cpuStart;
        NativeMethods.rocksdb_readoptions_destroy(readOptions);
        if (entries != (long)_config.Keys * _config.ScanPasses || touched == 0)
        {
            throw new InvalidOperationException($"scan saw {entries} entries, expected {(long)_config.Keys * _config.ScanPasses}");
        }

        return new WorkloadResult(entries / elapsed.TotalSeconds, entries / cpu, double.NaN);
    }

    /// <summary>Loads every key for reads, then flushes and compacts into one sorted level, as load() in engine_bench.c.</summary>
    private void Load()
    {
        var mask = (ulong)_config.Keys - 1;
        using var batch = _reads.NewWriteBatch();
        for (ulong i = 0; i < (ulong)_config.Keys; i++)
        {
            var k = PutIndex(i, mask);
            SetKey(k);
            SetValue(k);
            batch.Put(ColumnFamily.Default, _key, _value);
            if (batch.Count == 1000 || i + 1 == (ulong)_config.Keys)
            {
                _reads.Write(batch);
                batch.Clear();
            }
        }

        _reads.Flush();
        _reads.CompactRange(ColumnFamily.Default);
    }
}
