using System.Reflection;
using System.Runtime.InteropServices;

namespace Kv.Node.Storage.Native;

/// <summary>
/// P/Invoke declarations for the parts of RocksDB's C API (rocksdb/c.h, 7.8) the engine uses.
/// Opaque C pointers are <c>nint</c>; keys and values cross as pointer + length so no call
/// marshals or allocates. Ownership rules are in <see cref="DbHandle"/>. Every function that
/// takes <c>char** errptr</c> leaves a malloc'ed message there on failure, which
/// <see cref="NativeError"/> turns into an exception and frees.
/// </summary>
internal static unsafe partial class NativeMethods
{
    private const string Library = "rocksdb";

    /// <summary>Environment variable naming the library file, for installs outside Debian's layout.</summary>
    public const string LibraryVariable = "KV_ROCKSDB_LIBRARY";

    // Debian's runtime package (librocksdb7.8) ships only the versioned soname; the unversioned
    // name exists only with the -dev package. Try the explicit override, then the soname, then the rest.
    private static readonly string[] Candidates = ["librocksdb.so.7.8", "librocksdb.so", "librocksdb.dylib", "rocksdb"];

    /// <summary>The file the library was loaded from, once loaded.</summary>
    public static string? LoadedFrom { get; private set; }

    // An explicit static constructor makes the resolver run before the first native call.
    static NativeMethods() => NativeLibrary.SetDllImportResolver(typeof(NativeMethods).Assembly, Resolve);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Library)
        {
            return 0;
        }

        var overridden = Environment.GetEnvironmentVariable(LibraryVariable);
        foreach (var candidate in string.IsNullOrEmpty(overridden) ? Candidates : [overridden])
        {
            if (NativeLibrary.TryLoad(candidate, assembly, path, out var handle))
            {
                LoadedFrom = candidate;
                return handle;
            }
        }

        throw new DllNotFoundException(
            $"RocksDB's C library could not be loaded (tried {string.Join(", ", string.IsNullOrEmpty(overridden) ? Candidates : [overridden])}). " +
            $"Install it with 'apt-get install librocksdb7.8', or set {LibraryVariable} to the library's path.");
    }

    // ---- memory -------------------------------------------------------------------------
    [LibraryImport(Library)] internal static partial void rocksdb_free(void* ptr);

    // ---- options --------------------------------------------------------------------------
    [LibraryImport(Library)] internal static partial nint rocksdb_options_create();
    [LibraryImport(Library)] internal static partial void rocksdb_options_destroy(nint options);
    [LibraryImport(Library)] internal static partial void rocksdb_options_set_create_if_missing(nint options, byte value);
    [LibraryImport(Library)] internal static partial void rocksdb_options_set_create_missing_column_families(nint options, byte value);
    [LibraryImport(Library)] internal static partial void rocksdb_options_set_paranoid_checks(nint options, byte value);
    [LibraryImport(Library)] internal static partial void rocksdb_options_set_max_background_jobs(nint options, int value);
    [LibraryImport(Library)] internal static partial void rocksdb_options_set_write_buffer_size(nint options, nuint value);
    [LibraryImport(Library)] internal static partial void rocksdb_options_set_compression(nint options, int value);
    [LibraryImport(Library)] internal static partial void rocksdb_options_set_level_compaction_dynamic_level_bytes(nint options, byte value);
    [LibraryImport(Library)] internal static partial void rocksdb_options_set_bytes_per_sync(nint options, ulong value);
    [LibraryImport(Library)] internal static partial void rocksdb_options_set_keep_log_file_num(nint options, nuint value);
    [LibraryImport(Library)] internal static partial void rocksdb_options_set_max_log_file_size(nint options, nuint value);
    [LibraryImport(Library)] internal static partial void rocksdb_options_set_info_log_level(nint options, int value);
    [LibraryImport(Library)] internal static partial void rocksdb_options_set_block_based_table_factory(nint options, nint tableOptions);
    [LibraryImport(Library)] internal static partial void rocksdb_options_enable_statistics(nint options);
    [LibraryImport(Library)] internal static partial byte* rocksdb_options_statistics_get_string(nint options);

    [LibraryImport(Library)] internal static partial nint rocksdb_block_based_options_create();
    [LibraryImport(Library)] internal static partial void rocksdb_block_based_options_destroy(nint tableOptions);
    [LibraryImport(Library)] internal static partial void rocksdb_block_based_options_set_block_cache(nint tableOptions, nint cache);
    [LibraryImport(Library)] internal static partial void rocksdb_block_based_options_set_filter_policy(nint tableOptions, nint policy);
    [LibraryImport(Library)] internal static partial void rocksdb_block_based_options_set_cache_index_and_filter_blocks(nint tableOptions, byte value);
    [LibraryImport(Library)] internal static partial nint rocksdb_filterpolicy_create_bloom_full(double bitsPerKey);
    [LibraryImport(Library)] internal static partial nint rocksdb_cache_create_lru(nuint capacity);
    [LibraryImport(Library)] internal static partial void rocksdb_cache_destroy(nint cache);

    [LibraryImport(Library)] internal static partial nint rocksdb_writeoptions_create();
    [LibraryImport(Library)] internal static partial void rocksdb_writeoptions_destroy(nint options);
    [LibraryImport(Library)] internal static partial void rocksdb_writeoptions_set_sync(nint options, byte value);
    [LibraryImport(Library)] internal static partial nint rocksdb_readoptions_create();
    [LibraryImport(Library)] internal static partial void rocksdb_readoptions_destroy(nint options);
    [LibraryImport(Library)] internal static partial void rocksdb_readoptions_set_snapshot(nint options, nint snapshot);
    [LibraryImport(Library)] internal static partial void rocksdb_readoptions_set_fill_cache(nint options, byte value);
    [LibraryImport(Library)] internal static partial void rocksdb_readoptions_set_iterate_lower_bound(nint options, byte* key, nuint keyLength);
    [LibraryImport(Library)] internal static partial void rocksdb_readoptions_set_iterate_upper_bound(nint options, byte* key, nuint keyLength);
    [LibraryImport(Library)] internal static partial nint rocksdb_flushoptions_create();
    [LibraryImport(Library)] internal static partial void rocksdb_flushoptions_destroy(nint options);
    [LibraryImport(Library)] internal static partial void rocksdb_flushoptions_set_wait(nint options, byte value);

    // ---- open / close -------------------------------------------------------------------
    [LibraryImport(Library)]
    internal static partial nint rocksdb_open_column_families(nint options, byte* name, int count, byte** names, nint* columnFamilyOptions, nint* handles, byte** errptr);
    [LibraryImport(Library)] internal static partial byte** rocksdb_list_column_families(nint options, byte* name, nuint* count, byte** errptr);
    [LibraryImport(Library)] internal static partial void rocksdb_list_column_families_destroy(byte** list, nuint count);
    [LibraryImport(Library)] internal static partial void rocksdb_column_family_handle_destroy(nint handle);
    [LibraryImport(Library)] internal static partial void rocksdb_close(nint db);

    // ---- point operations ---------------------------------------------------------------
    [LibraryImport(Library)] internal static partial void rocksdb_put_cf(nint db, nint options, nint cf, byte* key, nuint keyLength, byte* value, nuint valueLength, byte** errptr);
    [LibraryImport(Library)] internal static partial void rocksdb_delete_cf(nint db, nint options, nint cf, byte* key, nuint keyLength, byte** errptr);
    [LibraryImport(Library)] internal static partial void rocksdb_delete_range_cf(nint db, nint options, nint cf, byte* start, nuint startLength, byte* end, nuint endLength, byte** errptr);
    [LibraryImport(Library)] internal static partial nint rocksdb_get_pinned_cf(nint db, nint options, nint cf, byte* key, nuint keyLength, byte** errptr);
    [LibraryImport(Library)] internal static partial byte* rocksdb_pinnableslice_value(nint slice, nuint* length);
    [LibraryImport(Library)] internal static partial void rocksdb_pinnableslice_destroy(nint slice);

    // ---- write batches ------------------------------------------------------------------
    [LibraryImport(Library)] internal static partial nint rocksdb_writebatch_create();
    [LibraryImport(Library)] internal static partial void rocksdb_writebatch_destroy(nint batch);
    [LibraryImport(Library)] internal static partial void rocksdb_writebatch_clear(nint batch);
    [LibraryImport(Library)] internal static partial int rocksdb_writebatch_count(nint batch);
    [LibraryImport(Library)] internal static partial byte* rocksdb_writebatch_data(nint batch, nuint* size);
    [LibraryImport(Library)] internal static partial void rocksdb_writebatch_put_cf(nint batch, nint cf, byte* key, nuint keyLength, byte* value, nuint valueLength);
    [LibraryImport(Library)] internal static partial void rocksdb_writebatch_delete_cf(nint batch, nint cf, byte* key, nuint keyLength);
    [LibraryImport(Library)] internal static partial void rocksdb_writebatch_delete_range_cf(nint batch, nint cf, byte* start, nuint startLength, byte* end, nuint endLength);
    [LibraryImport(Library)] internal static partial void rocksdb_write(nint db, nint options, nint batch, byte** errptr);

    // ---- iterators and snapshots --------------------------------------------------------
    [LibraryImport(Library)] internal static partial nint rocksdb_create_iterator_cf(nint db, nint options, nint cf);
    [LibraryImport(Library)] internal static partial void rocksdb_iter_destroy(nint iterator);
    [LibraryImport(Library)] internal static partial byte rocksdb_iter_valid(nint iterator);
    [LibraryImport(Library)] internal static partial void rocksdb_iter_seek_to_first(nint iterator);
    [LibraryImport(Library)] internal static partial void rocksdb_iter_seek_to_last(nint iterator);
    [LibraryImport(Library)] internal static partial void rocksdb_iter_seek(nint iterator, byte* key, nuint keyLength);
    [LibraryImport(Library)] internal static partial void rocksdb_iter_seek_for_prev(nint iterator, byte* key, nuint keyLength);
    [LibraryImport(Library)] internal static partial void rocksdb_iter_next(nint iterator);
    [LibraryImport(Library)] internal static partial void rocksdb_iter_prev(nint iterator);
    [LibraryImport(Library)] internal static partial byte* rocksdb_iter_key(nint iterator, nuint* length);
    [LibraryImport(Library)] internal static partial byte* rocksdb_iter_value(nint iterator, nuint* length);
    [LibraryImport(Library)] internal static partial void rocksdb_iter_get_error(nint iterator, byte** errptr);
    [LibraryImport(Library)] internal static partial nint rocksdb_create_snapshot(nint db);
    [LibraryImport(Library)] internal static partial void rocksdb_release_snapshot(nint db, nint snapshot);

    // ---- checkpoints, SST files ---------------------------------------------------------
    [LibraryImport(Library)] internal static partial nint rocksdb_checkpoint_object_create(nint db, byte** errptr);
    [LibraryImport(Library)] internal static partial void rocksdb_checkpoint_create(nint checkpoint, byte* directory, ulong logSizeForFlush, byte** errptr);
    [LibraryImport(Library)] internal static partial void rocksdb_checkpoint_object_destroy(nint checkpoint);
    [LibraryImport(Library)] internal static partial nint rocksdb_envoptions_create();
    [LibraryImport(Library)] internal static partial void rocksdb_envoptions_destroy(nint options);
    [LibraryImport(Library)] internal static partial nint rocksdb_sstfilewriter_create(nint envOptions, nint options);
    [LibraryImport(Library)] internal static partial void rocksdb_sstfilewriter_open(nint writer, byte* path, byte** errptr);
    [LibraryImport(Library)] internal static partial void rocksdb_sstfilewriter_put(nint writer, byte* key, nuint keyLength, byte* value, nuint valueLength, byte** errptr);
    [LibraryImport(Library)] internal static partial void rocksdb_sstfilewriter_delete(nint writer, byte* key, nuint keyLength, byte** errptr);
    [LibraryImport(Library)] internal static partial void rocksdb_sstfilewriter_finish(nint writer, byte** errptr);
    [LibraryImport(Library)] internal static partial void rocksdb_sstfilewriter_file_size(nint writer, ulong* size);
    [LibraryImport(Library)] internal static partial void rocksdb_sstfilewriter_destroy(nint writer);
    [LibraryImport(Library)] internal static partial nint rocksdb_ingestexternalfileoptions_create();
    [LibraryImport(Library)] internal static partial void rocksdb_ingestexternalfileoptions_set_move_files(nint options, byte value);
    [LibraryImport(Library)] internal static partial void rocksdb_ingestexternalfileoptions_destroy(nint options);
    [LibraryImport(Library)] internal static partial void rocksdb_ingest_external_file_cf(nint db, nint cf, byte** files, nuint count, nint options, byte** errptr);

    // ---- maintenance and introspection --------------------------------------------------
    [LibraryImport(Library)]
    internal static partial void rocksdb_approximate_sizes_cf(nint db, nint cf, int count, byte** starts, nuint* startLengths, byte** limits, nuint* limitLengths, ulong* sizes, byte** errptr);
    [LibraryImport(Library)] internal static partial void rocksdb_compact_range_cf(nint db, nint cf, byte* start, nuint startLength, byte* limit, nuint limitLength);
    [LibraryImport(Library)] internal static partial void rocksdb_flush_cf(nint db, nint options, nint cf, byte** errptr);
    [LibraryImport(Library)] internal static partial byte* rocksdb_property_value_cf(nint db, nint cf, byte* name);
}
