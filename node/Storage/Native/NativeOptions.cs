using static Kv.Node.Storage.Native.NativeMethods;

namespace Kv.Node.Storage.Native;

/// <summary>
/// The native option objects of one open database. Created before the open and destroyed after
/// the close (by <see cref="DbHandle"/>), because the DB options carry the statistics object the
/// engine reads while it is open, and the SST writer is built from a column family's options.
/// </summary>
internal sealed class NativeOptions
{
    private bool _destroyed;

    private NativeOptions(nint db, nint[] columnFamilies, nint cache)
    {
        Db = db;
        ColumnFamilies = columnFamilies;
        Cache = cache;
        WriteBuffered = rocksdb_writeoptions_create();
        WriteSync = rocksdb_writeoptions_create();
        rocksdb_writeoptions_set_sync(WriteSync, 1);
        Read = rocksdb_readoptions_create();
        Flush = rocksdb_flushoptions_create();
        rocksdb_flushoptions_set_wait(Flush, 1);
    }

    public nint Db { get; }

    /// <summary>Options per column family, in the order the database is opened with.</summary>
    public nint[] ColumnFamilies { get; }

    private nint Cache { get; }

    /// <summary>Writes acknowledged once in the OS page cache (the WAL is written, not synced).</summary>
    public nint WriteBuffered { get; }

    /// <summary>Writes acknowledged only after the WAL is fsynced.</summary>
    public nint WriteSync { get; }

    /// <summary>Reads of the latest data with default settings.</summary>
    public nint Read { get; }

    /// <summary>Flushes that wait until the memtable is on disk.</summary>
    public nint Flush { get; }

    public static NativeOptions Create(EngineOptions options, IReadOnlyList<ColumnFamilyOptions> columnFamilies)
    {
        var cache = rocksdb_cache_create_lru((nuint)options.BlockCacheBytes);
        var db = rocksdb_options_create();
        rocksdb_options_set_create_if_missing(db, options.CreateIfMissing ? (byte)1 : (byte)0);
        rocksdb_options_set_create_missing_column_families(db, options.CreateIfMissing ? (byte)1 : (byte)0);
        rocksdb_options_set_paranoid_checks(db, 1);
        rocksdb_options_set_max_background_jobs(db, options.MaxBackgroundJobs);
        rocksdb_options_set_bytes_per_sync(db, 1 << 20);
        // Keep RocksDB's own LOG files bounded: operators look at our logs first.
        rocksdb_options_set_keep_log_file_num(db, 5);
        rocksdb_options_set_max_log_file_size(db, 16 << 20);
        // No atomic_flush: the WAL is always on, and recovery replays it for every column family
        // whose memtable was not yet flushed, so a batch across families stays atomic through a
        // crash without forcing the small families to flush whenever a large one does.
        if (options.EnableStatistics)
        {
            rocksdb_options_enable_statistics(db);
        }

        var cfs = new nint[columnFamilies.Count];
        for (var i = 0; i < cfs.Length; i++)
        {
            var cf = columnFamilies[i];
            var o = rocksdb_options_create();
            rocksdb_options_set_write_buffer_size(o, (nuint)cf.WriteBufferBytes);
            rocksdb_options_set_compression(o, (int)cf.Compression);
            rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
            // The table factory copies the table options, so they are destroyed right away.
            var table = rocksdb_block_based_options_create();
            rocksdb_block_based_options_set_block_cache(table, cache);
            rocksdb_block_based_options_set_cache_index_and_filter_blocks(table, 1);
            if (cf.BloomBitsPerKey > 0)
            {
                // The table options take ownership of the policy.
                rocksdb_block_based_options_set_filter_policy(table, rocksdb_filterpolicy_create_bloom_full(cf.BloomBitsPerKey));
            }

            rocksdb_options_set_block_based_table_factory(o, table);
            rocksdb_block_based_options_destroy(table);
            cfs[i] = o;
        }

        return new NativeOptions(db, cfs, cache);
    }

    /// <summary>Frees every native object; called once, after the database is closed (or failed to open).</summary>
    public void Destroy()
    {
        if (_destroyed)
        {
            return;
        }

        _destroyed = true;
        rocksdb_writeoptions_destroy(WriteBuffered);
        rocksdb_writeoptions_destroy(WriteSync);
        rocksdb_readoptions_destroy(Read);
        rocksdb_flushoptions_destroy(Flush);
        foreach (var cf in ColumnFamilies)
        {
            rocksdb_options_destroy(cf);
        }

        rocksdb_options_destroy(Db);
        rocksdb_cache_destroy(Cache);
    }
}
