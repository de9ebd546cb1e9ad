namespace Kv.Node.Storage;

/// <summary>Block compression codecs, numbered as RocksDB's C API numbers them.</summary>
public enum Compression
{
    None = 0,
    Snappy = 1,
    Zlib = 2,
    Lz4 = 4,
    Zstd = 7,
}

/// <summary>Options of one column family.</summary>
public sealed record ColumnFamilyOptions
{
    /// <summary>Memtable size before it is flushed to an SST file.</summary>
    public long WriteBufferBytes { get; init; } = 64L << 20;

    /// <summary>Bloom filter bits per key; 0 disables the filter (for column families read mostly by scans).</summary>
    public double BloomBitsPerKey { get; init; } = 10;

    public Compression Compression { get; init; } = Compression.Lz4;
}

/// <summary>
/// How an <see cref="Engine"/> opens its RocksDB instance. The defaults suit one store per node;
/// every field has a sensible default so <c>new EngineOptions()</c> is a working configuration.
/// </summary>
public sealed record EngineOptions
{
    /// <summary>Create the directory and the column families when they do not exist.</summary>
    public bool CreateIfMissing { get; init; } = true;

    /// <summary>Block cache shared by every column family.</summary>
    public long BlockCacheBytes { get; init; } = 128L << 20;

    /// <summary>Flush and compaction threads.</summary>
    public int MaxBackgroundJobs { get; init; } = 2;

    /// <summary>RocksDB's internal counters (see <see cref="Engine.GetStatistics"/>); costs a few percent.</summary>
    public bool EnableStatistics { get; init; } = true;

    /// <summary>Largest key the engine accepts. Larger keys are refused, never truncated.</summary>
    public int MaxKeyBytes { get; init; } = 64 << 10;

    /// <summary>Largest value the engine accepts. Larger values are refused, never truncated.</summary>
    public int MaxValueBytes { get; init; } = 64 << 20;

    /// <summary>Per column family options; families not listed use <see cref="DefaultFor"/>.</summary>
    public IReadOnlyDictionary<ColumnFamily, ColumnFamilyOptions> ColumnFamilies { get; init; } = new Dictionary<ColumnFamily, ColumnFamilyOptions>();

    /// <summary>The options a column family gets unless <see cref="ColumnFamilies"/> says otherwise.</summary>
    public static ColumnFamilyOptions DefaultFor(ColumnFamily cf) => cf switch
    {
        // Small and hot: no compression, a smaller memtable.
        ColumnFamily.Lock => new ColumnFamilyOptions { WriteBufferBytes = 32L << 20, Compression = Compression.None },
        // Appended and read back in order by the Raft log: scans, so no bloom filter.
        ColumnFamily.Raft => new ColumnFamilyOptions { BloomBitsPerKey = 0, Compression = Compression.None },
        ColumnFamily.Meta => new ColumnFamilyOptions { WriteBufferBytes = 4L << 20, Compression = Compression.None },
        _ => new ColumnFamilyOptions(),
    };

    public ColumnFamilyOptions For(ColumnFamily cf) =>
        ColumnFamilies.TryGetValue(cf, out var options) ? options : DefaultFor(cf);
}
