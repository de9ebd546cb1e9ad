using System.Reflection;
using System.Runtime.InteropServices;

namespace Kv.Node.Storage.Native;

/// <summary>
/// P/Invoke declarations for the parts of RocksDB's C API (rocksdb/c.h) the engine uses, bound to
/// the native library the <c>RocksDB</c> NuGet package ships (11.12, self-contained, one per
/// platform under <c>runtimes/RID/native/</c>). Why the engine declares them rather than calling
/// the package's RocksDbSharp layer is measured in docs/PERFORMANCE.md ("Which binding").
/// Opaque C pointers are <c>nint</c>; keys and values cross as pointer + length so no call
/// marshals or allocates. Ownership rules are in <see cref="DbHandle"/>. Every function that
/// takes <c>char** errptr</c> leaves a malloc'ed message there on failure, which
/// <see cref="NativeError"/> turns into an exception and frees.
/// </summary>
internal static unsafe partial class NativeMethods
{
    private const string Library = "rocksdb";

    /// <summary>The full path of the library file, once loaded.</summary>
    public static string? LoadedFrom { get; private set; }

    // An explicit static constructor makes the resolver run before the first native call.
    static NativeMethods() => NativeLibrary.SetDllImportResolver(typeof(NativeMethods).Assembly, Resolve);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Library)
        {
            return 0;
        }

        // The file the package puts in the build output: runtimes/RID/native/ for a portable build,
        // the application directory for a RID-specific one. Only the plain build: the -jemalloc one
        // needs libjemalloc2 installed, and the package's own loader would take it whenever that is.
        var (rid, file) = PackageAsset();
        string[] candidates =
        [
            System.IO.Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native", file),
            System.IO.Path.Combine(AppContext.BaseDirectory, file),
        ];
        foreach (var candidate in candidates)
        {
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out var handle))
            {
                LoadedFrom = candidate;
                return handle;
            }
        }

        throw new DllNotFoundException(
            $"RocksDB's native library could not be loaded (tried {string.Join(", ", candidates)}). It comes with the " +
            "'RocksDB' NuGet package, which ships it for linux-x64, linux-arm64, osx-x64, osx-arm64 and win-x64; " +
            "rebuild (or republish) so it is copied next to the application.");
    }

    /// <summary>Where the package keeps the library for this process's platform, and its file name.</summary>
    private static (string Rid, string File) PackageAsset()
    {
        var arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        if (OperatingSystem.IsWindows())
        {
            return ($"win-{arch}", "rocksdb.dll");
        }

        if (OperatingSystem.IsMacOS())
        {
            return ($"osx-{arch}", "librocksdb.dylib");
        }

        // musl (Alpine) needs the package's musl build; glibc takes the plain one.
        var musl = RuntimeInformation.RuntimeIdentifier.Contains("musl", StringComparison.Ordinal);
        return ($"linux-{arch}", musl ? "librocksdb-musl.so" : "librocksdb.so");
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
    // include_flags: rocksdb_size_approximation_flags_t (1: memtables, 2: SST files; c.h).
    [LibraryImport(Library)]
    internal static partial void rocksdb_approximate_sizes_cf_with_flags(nint db, nint cf, int count, byte** starts, nuint* startLengths, byte** limits, nuint* limitLengths, byte includeFlags, ulong* sizes, byte** errptr);
    [LibraryImport(Library)] internal static partial void rocksdb_compact_range_cf(nint db, nint cf, byte* start, nuint startLength, byte* limit, nuint limitLength);
    [LibraryImport(Library)] internal static partial void rocksdb_flush_cf(nint db, nint options, nint cf, byte** errptr);
    [LibraryImport(Library)] internal static partial byte* rocksdb_property_value_cf(nint db, nint cf, byte* name);
}
