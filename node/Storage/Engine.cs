using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using Kv.Node.Storage.Native;
using static Kv.Node.Storage.Native.NativeMethods;

namespace Kv.Node.Storage;

/// <summary>
/// One store's RocksDB instance with the column families of shared/DESIGN.md section 3. This is
/// the only storage type the rest of the node sees; no RocksDB type leaks past it.
///
/// Contracts:
/// - Thread safety: every member of <see cref="Engine"/> may be called from any thread.
///   <see cref="WriteBatch"/>, <see cref="EngineIterator"/> and <see cref="SstFileWriter"/> are
///   used by one thread at a time.
/// - Durability: a write with <c>sync: true</c> returns only after RocksDB's WAL is fsynced; it
///   survives a process crash and a power loss. Without it, a write survives a process crash
///   (it is in the OS page cache) but may be lost on power loss.
/// - Atomicity: a <see cref="WriteBatch"/> is applied entirely or not at all, across column families.
/// - Bad input (empty or oversized keys, oversized values, an unknown column family, objects
///   from another engine, use after dispose) is refused with an exception before anything is written.
/// - Lifetime: <see cref="Dispose"/> closes the database once every iterator and snapshot is
///   disposed (or finalized); until then the data directory stays locked.
/// </summary>
public sealed unsafe class Engine : IDisposable
{
    // Where an empty span needs a real address: RocksDB's Slice is (pointer, length). Shared by
    // WriteBatch and SstFileWriter.
    internal static readonly byte[] NonNull = new byte[1];

    private readonly DbHandle _db;
    private readonly nint[] _cfs; // column family handles, owned by _db; valid while a lease is held
    private readonly int _maxKey;
    private readonly int _maxValue;
    private volatile bool _disposed;

    private Engine(string path, EngineOptions options, DbHandle db)
    {
        Path = path;
        Options = options;
        _db = db;
        _cfs = db.ColumnFamilies;
        _maxKey = options.MaxKeyBytes;
        _maxValue = options.MaxValueBytes;
    }

    /// <summary>The data directory, as an absolute path.</summary>
    public string Path { get; }

    public EngineOptions Options { get; }

    /// <summary>The full path of the native library in use (the RocksDB package's librocksdb), once an engine was opened.</summary>
    public static string? NativeLibrary => LoadedFrom;

    /// <summary>Opens (or, by default, creates) the store at <paramref name="path"/>.</summary>
    /// <exception cref="StorageException">RocksDB refused: the directory is locked, corrupt, unreadable, or the library is missing.</exception>
    public static Engine Open(string path, EngineOptions? options = null) =>
        Open(path, options ?? new EngineOptions(), ColumnFamilyNames.All);

    /// <summary>Opens with explicit column family names; the public overload passes the fixed set.</summary>
    internal static Engine Open(string path, EngineOptions options, IReadOnlyList<string> columnFamilies)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(columnFamilies);
        Validate(options);
        ValidateNames(columnFamilies);
        var full = System.IO.Path.GetFullPath(path);
        if (File.Exists(full))
        {
            throw new StorageException(StorageErrorKind.InvalidArgument, $"cannot open the engine at {full}: it is a file, not a directory. Point the data directory at a directory.", null);
        }

        if (!options.CreateIfMissing && !File.Exists(System.IO.Path.Combine(full, "CURRENT")))
        {
            throw new StorageException(StorageErrorKind.InvalidArgument, $"cannot open the engine at {full}: no store exists there and creating one was not requested. Check the data directory, or allow creation.", null);
        }

        if (options.CreateIfMissing)
        {
            // RocksDB creates only the last component of the path; an operator naming
            // /var/lib/kv/store1 expects the parents too.
            try
            {
                Directory.CreateDirectory(full);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new StorageException(StorageErrorKind.IOError, $"cannot create the data directory {full}: {e.Message}. Check the path and its permissions.", null, e);
            }
        }

        var cfOptions = new ColumnFamilyOptions[columnFamilies.Count];
        for (var i = 0; i < cfOptions.Length; i++)
        {
            var index = IndexOf(columnFamilies[i]);
            cfOptions[i] = index >= 0 ? options.For((ColumnFamily)index) : new ColumnFamilyOptions();
        }

        NativeOptions native;
        try
        {
            native = NativeOptions.Create(options, cfOptions);
        }
        catch (DllNotFoundException e)
        {
            throw new StorageException(StorageErrorKind.LibraryMissing, e.Message, null, e);
        }

        var handles = new nint[columnFamilies.Count];
        using var names = new Utf8StringArray(columnFamilies);
        byte* err = null;
        nint db;
        fixed (byte* p = Utf8Z(full))
        fixed (nint* cfo = native.ColumnFamilies)
        fixed (nint* h = handles)
        {
            db = rocksdb_open_column_families(native.Db, p, names.Count, names.Pointers, cfo, h, &err);
        }

        if (err != null)
        {
            native.Destroy();
            NativeError.ThrowIfSet(err, "opening the engine", null, full);
        }

        return new Engine(full, options, new DbHandle(db, handles, native));
    }

    /// <summary>Column families present in an existing store, for diagnostics; empty if there is no store.</summary>
    public static IReadOnlyList<string> ListColumnFamilies(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(System.IO.Path.Combine(full, "CURRENT")))
        {
            return [];
        }

        var options = rocksdb_options_create();
        try
        {
            byte* err = null;
            nuint count = 0;
            byte** list;
            fixed (byte* p = Utf8Z(full))
            {
                list = rocksdb_list_column_families(options, p, &count, &err);
            }

            NativeError.ThrowIfSet(err, "listing column families", null, full);
            var result = new string[(int)count];
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = Marshal.PtrToStringUTF8((nint)list[i]) ?? string.Empty;
            }

            rocksdb_list_column_families_destroy(list, count);
            return result;
        }
        finally
        {
            rocksdb_options_destroy(options);
        }
    }

    // ---- reads --------------------------------------------------------------------------

    /// <summary>
    /// Copies the value of <paramref name="key"/> into <paramref name="destination"/> without
    /// allocating. Returns -1 if the key is absent, else the value's full length; when that is
    /// larger than the destination, only the first bytes were copied and the caller retries larger.
    /// </summary>
    public int Get(ColumnFamily cf, ReadOnlySpan<byte> key, Span<byte> destination, EngineSnapshot? snapshot = null)
    {
        var slice = GetPinned(cf, key, snapshot);
        if (slice == 0)
        {
            return -1;
        }

        try
        {
            var value = PinnedValue(slice);
            value[..Math.Min(value.Length, destination.Length)].CopyTo(destination);
            return value.Length;
        }
        finally
        {
            rocksdb_pinnableslice_destroy(slice);
        }
    }

    /// <summary>Appends the value of <paramref name="key"/> to <paramref name="destination"/>; false if absent.</summary>
    public bool TryGet(ColumnFamily cf, ReadOnlySpan<byte> key, IBufferWriter<byte> destination, EngineSnapshot? snapshot = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var slice = GetPinned(cf, key, snapshot);
        if (slice == 0)
        {
            return false;
        }

        try
        {
            var value = PinnedValue(slice);
            value.CopyTo(destination.GetSpan(value.Length));
            destination.Advance(value.Length);
            return true;
        }
        finally
        {
            rocksdb_pinnableslice_destroy(slice);
        }
    }

    /// <summary>The value of <paramref name="key"/> as a new array, or null if absent. Allocates; not for hot paths.</summary>
    public byte[]? Get(ColumnFamily cf, ReadOnlySpan<byte> key, EngineSnapshot? snapshot = null)
    {
        var slice = GetPinned(cf, key, snapshot);
        if (slice == 0)
        {
            return null;
        }

        try
        {
            return PinnedValue(slice).ToArray();
        }
        finally
        {
            rocksdb_pinnableslice_destroy(slice);
        }
    }

    /// <summary>
    /// An iterator over <paramref name="cf"/>, limited to [lowerBound, upperBound) when those are
    /// not empty, reading at <paramref name="snapshot"/> when given. Dispose it: it keeps the
    /// database open. <paramref name="fillCache"/> false keeps a bulk scan from evicting hot blocks.
    /// </summary>
    public EngineIterator NewIterator(ColumnFamily cf, ReadOnlySpan<byte> lowerBound = default, ReadOnlySpan<byte> upperBound = default, EngineSnapshot? snapshot = null, bool fillCache = true)
    {
        var handle = CfHandle(cf);
        if (lowerBound.Length > _maxKey || upperBound.Length > _maxKey)
        {
            throw new ArgumentException($"iterator bounds must be at most {_maxKey} bytes (EngineOptions.MaxKeyBytes)");
        }

        if (!lowerBound.IsEmpty && !upperBound.IsEmpty && lowerBound.SequenceCompareTo(upperBound) > 0)
        {
            throw new ArgumentException("the iterator's lower bound sorts after its upper bound; swap them");
        }

        CheckSnapshot(snapshot);
        using var lease = Enter();
        // The iterator handle references the snapshot itself, and refuses a disposed one.
        return new EngineIterator(new IteratorHandle(_db, handle, lowerBound, upperBound, snapshot?.RawHandle, fillCache), Path);
    }

    /// <summary>A consistent view of the whole store at this moment, for reads and iterators. Dispose it.</summary>
    public EngineSnapshot GetSnapshot()
    {
        using var lease = Enter();
        return new EngineSnapshot(this, new SnapshotHandle(_db));
    }

    // ---- writes -------------------------------------------------------------------------

    public void Put(ColumnFamily cf, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool sync = false)
    {
        var handle = CfHandle(cf);
        CheckKey(key);
        CheckValue(value);
        using var lease = Enter();
        byte* err = null;
        fixed (byte* k = key)
        fixed (byte* v = &MemoryMarshal.GetReference(value.IsEmpty ? NonNull : value))
        {
            rocksdb_put_cf(lease.Db, WriteOptions(sync), handle, k, (nuint)key.Length, v, (nuint)value.Length, &err);
        }

        NativeError.ThrowIfSet(err, "put", ColumnFamilyNames.Of(cf), Path);
    }

    public void Delete(ColumnFamily cf, ReadOnlySpan<byte> key, bool sync = false)
    {
        var handle = CfHandle(cf);
        CheckKey(key);
        using var lease = Enter();
        byte* err = null;
        fixed (byte* k = key)
        {
            rocksdb_delete_cf(lease.Db, WriteOptions(sync), handle, k, (nuint)key.Length, &err);
        }

        NativeError.ThrowIfSet(err, "delete", ColumnFamilyNames.Of(cf), Path);
    }

    /// <summary>Deletes every key in [start, end). <paramref name="start"/> must sort before <paramref name="end"/>.</summary>
    public void DeleteRange(ColumnFamily cf, ReadOnlySpan<byte> start, ReadOnlySpan<byte> end, bool sync = false)
    {
        var handle = CfHandle(cf);
        CheckRange(start, end);
        using var lease = Enter();
        byte* err = null;
        fixed (byte* s = start)
        fixed (byte* e = end)
        {
            rocksdb_delete_range_cf(lease.Db, WriteOptions(sync), handle, s, (nuint)start.Length, e, (nuint)end.Length, &err);
        }

        NativeError.ThrowIfSet(err, "delete-range", ColumnFamilyNames.Of(cf), Path);
    }

    /// <summary>A reusable batch of writes for this engine; apply it with <see cref="Write"/>.</summary>
    public WriteBatch NewWriteBatch()
    {
        ThrowIfDisposed();
        return new WriteBatch(this);
    }

    /// <summary>Applies every write of <paramref name="batch"/> atomically, across column families.</summary>
    public void Write(WriteBatch batch, bool sync = false)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (!ReferenceEquals(batch.Engine, this))
        {
            throw new ArgumentException($"the write batch was made by another engine; make batches with this engine's NewWriteBatch ({Path})", nameof(batch));
        }

        using var lease = Enter();
        byte* err = null;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        rocksdb_write(lease.Db, WriteOptions(sync), batch.NativeHandle, &err);
        Metrics?.ObserveWrite(sync, started);
        NativeError.ThrowIfSet(err, "write batch", null, Path);
    }

    /// <summary>Write-batch timings (null: not recorded); set once by the node after Open.</summary>
    public StorageMetrics? Metrics { get; set; }

    // ---- files: checkpoints, SST writing and ingestion ----------------------------------

    /// <summary>
    /// Writes a consistent, openable copy of the store into <paramref name="directory"/> (which must
    /// not exist), hard-linking SST files where the file system allows. Memtables are flushed first,
    /// so the copy needs no WAL replay.
    /// </summary>
    public void CreateCheckpoint(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var full = System.IO.Path.GetFullPath(directory);
        if (Directory.Exists(full) || File.Exists(full))
        {
            throw new ArgumentException($"the checkpoint directory {full} already exists; choose a new path", nameof(directory));
        }

        using var lease = Enter();
        byte* err = null;
        var checkpoint = rocksdb_checkpoint_object_create(lease.Db, &err);
        NativeError.ThrowIfSet(err, "checkpoint", null, Path);
        try
        {
            fixed (byte* d = Utf8Z(full))
            {
                rocksdb_checkpoint_create(checkpoint, d, 0, &err);
            }

            NativeError.ThrowIfSet(err, "checkpoint into " + full + " of the engine", null, Path);
        }
        finally
        {
            rocksdb_checkpoint_object_destroy(checkpoint);
        }
    }

    /// <summary>A writer of one SST file for <paramref name="cf"/>, with that family's options; keys must be added in ascending order.</summary>
    public SstFileWriter NewSstFileWriter(ColumnFamily cf, string path)
    {
        CfHandle(cf);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var lease = Enter();
        return SstFileWriter.Open(this, _db.Options.ColumnFamilies[(int)cf], System.IO.Path.GetFullPath(path));
    }

    /// <summary>
    /// Adds finished SST files to <paramref name="cf"/> atomically: all become visible at once, or
    /// none. With <paramref name="move"/> the files are moved (hard-linked) instead of copied.
    /// </summary>
    public void IngestExternalFiles(ColumnFamily cf, IReadOnlyList<string> files, bool move = false)
    {
        var handle = CfHandle(cf);
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count == 0)
        {
            throw new ArgumentException("no files to ingest", nameof(files));
        }

        foreach (var f in files)
        {
            if (!File.Exists(f))
            {
                throw new FileNotFoundException($"cannot ingest {f}: no such file", f);
            }
        }

        using var paths = new Utf8StringArray(files.Select(System.IO.Path.GetFullPath).ToArray());
        var options = rocksdb_ingestexternalfileoptions_create();
        try
        {
            rocksdb_ingestexternalfileoptions_set_move_files(options, move ? (byte)1 : (byte)0);
            using var lease = Enter();
            byte* err = null;
            rocksdb_ingest_external_file_cf(lease.Db, handle, paths.Pointers, (nuint)paths.Count, options, &err);
            NativeError.ThrowIfSet(err, "ingest", ColumnFamilyNames.Of(cf), Path);
        }
        finally
        {
            rocksdb_ingestexternalfileoptions_destroy(options);
        }
    }

    // ---- maintenance and introspection --------------------------------------------------

    /// <summary>
    /// Approximate bytes that keys in [start, end) take in what <paramref name="sources"/> names:
    /// SST files (the default, what is on disk) and/or the memtables (written but not yet
    /// flushed, which SST sizes miss entirely until a flush). Sizes shown to operators and used
    /// for decisions should count both (<see cref="SizeSources.All"/>).
    /// </summary>
    public ulong ApproximateSize(ColumnFamily cf, ReadOnlySpan<byte> start, ReadOnlySpan<byte> end, SizeSources sources = SizeSources.Files)
    {
        var handle = CfHandle(cf);
        CheckRange(start, end);
        if ((sources & SizeSources.All) == 0 || (sources & ~SizeSources.All) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sources), sources, "name files, memtables or both");
        }

        using var lease = Enter();
        byte* err = null;
        ulong size = 0;
        fixed (byte* s = start)
        fixed (byte* e = end)
        {
            var startPtr = s;
            var endPtr = e;
            var startLength = (nuint)start.Length;
            var endLength = (nuint)end.Length;
            rocksdb_approximate_sizes_cf_with_flags(lease.Db, handle, 1, &startPtr, &startLength, &endPtr, &endLength, (byte)sources, &size, &err);
        }

        NativeError.ThrowIfSet(err, "approximate size", ColumnFamilyNames.Of(cf), Path);
        return size;
    }

    /// <summary>
    /// Approximate bytes the whole store holds: every column family's SST files plus its
    /// memtables (active and immutable, not yet flushed). A store that was just written to
    /// reports what it holds, not 0 B until the first flush.
    /// </summary>
    public ulong ApproximateUsedBytes()
    {
        ulong total = 0;
        foreach (var cf in Enum.GetValues<ColumnFamily>())
        {
            total += (ulong)Math.Max(0, GetLongProperty(cf, "rocksdb.total-sst-files-size") ?? 0);
            total += (ulong)Math.Max(0, GetLongProperty(cf, "rocksdb.cur-size-all-mem-tables") ?? 0);
        }

        return total;
    }

    /// <summary>Compacts keys in [start, end) of <paramref name="cf"/>; empty bounds mean unbounded. Blocks until done.</summary>
    public void CompactRange(ColumnFamily cf, ReadOnlySpan<byte> start = default, ReadOnlySpan<byte> end = default)
    {
        var handle = CfHandle(cf);
        using var lease = Enter();
        fixed (byte* s = start)
        fixed (byte* e = end)
        {
            rocksdb_compact_range_cf(lease.Db, handle, start.IsEmpty ? null : s, (nuint)start.Length, end.IsEmpty ? null : e, (nuint)end.Length);
        }
    }

    /// <summary>Writes the memtable of each column family to SST files, one family after another, and waits.</summary>
    public void Flush()
    {
        using var lease = Enter();
        foreach (ColumnFamily cf in Enum.GetValues<ColumnFamily>())
        {
            if ((int)cf < _cfs.Length)
            {
                byte* err = null;
                rocksdb_flush_cf(lease.Db, _db.Options.Flush, _cfs[(int)cf], &err);
                NativeError.ThrowIfSet(err, "flush", ColumnFamilyNames.Of(cf), Path);
            }
        }
    }

    /// <summary>A RocksDB property of <paramref name="cf"/> (for example "rocksdb.estimate-num-keys"); null if unknown.</summary>
    public string? GetProperty(ColumnFamily cf, string name)
    {
        var handle = CfHandle(cf);
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var lease = Enter();
        byte* value;
        fixed (byte* n = Utf8Z(name))
        {
            value = rocksdb_property_value_cf(lease.Db, handle, n);
        }

        return TakeString(value);
    }

    /// <summary>A numeric RocksDB property, or null if unknown or not a number.</summary>
    public long? GetLongProperty(ColumnFamily cf, string name) =>
        long.TryParse(GetProperty(cf, name), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : null;

    /// <summary>RocksDB's statistics dump (tickers and histograms); null when statistics are disabled.</summary>
    public string? GetStatistics()
    {
        if (!Options.EnableStatistics)
        {
            return null;
        }

        using var lease = Enter();
        return TakeString(rocksdb_options_statistics_get_string(_db.Options.Db));
    }

    /// <summary>Closes the engine once no call, iterator or snapshot uses it any more. Idempotent.</summary>
    public void Dispose()
    {
        _disposed = true;
        _db.Dispose();
    }

    // ---- internals shared with WriteBatch, EngineIterator, SstFileWriter -----------------

    internal nint CfHandle(ColumnFamily cf) =>
        (uint)cf < (uint)_cfs.Length ? _cfs[(int)cf] : throw new ArgumentOutOfRangeException(nameof(cf), cf, $"not a column family of this engine; use one of {string.Join(", ", ColumnFamilyNames.All)}");

    internal DbHandle.Lease Enter()
    {
        ThrowIfDisposed();
        return _db.Acquire();
    }

    internal void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(Engine), $"the engine at {Path} is closed; open it again to use it");
        }
    }

    internal void CheckKey(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty || key.Length > _maxKey)
        {
            ThrowBadKey(key.Length);
        }
    }

    internal void CheckValue(ReadOnlySpan<byte> value)
    {
        if (value.Length > _maxValue)
        {
            throw new ArgumentException($"a value of {value.Length} bytes exceeds the engine's limit of {_maxValue} bytes (EngineOptions.MaxValueBytes); nothing was written. Split the value, or raise the limit.", nameof(value));
        }
    }

    internal void CheckRange(ReadOnlySpan<byte> start, ReadOnlySpan<byte> end)
    {
        CheckKey(start);
        CheckKey(end);
        if (start.SequenceCompareTo(end) >= 0)
        {
            throw new ArgumentException("a key range needs its start to sort before its end; nothing was changed");
        }
    }

    internal nint WriteOptions(bool sync) => sync ? _db.Options.WriteSync : _db.Options.WriteBuffered;

    internal static byte[] Utf8Z(string s)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }

    private void ThrowBadKey(int length) =>
        throw new ArgumentException(length == 0
            ? "keys must not be empty; nothing was written (the engine reserves the empty key)"
            : $"a key of {length} bytes exceeds the engine's limit of {_maxKey} bytes (EngineOptions.MaxKeyBytes); nothing was written");

    private nint GetPinned(ColumnFamily cf, ReadOnlySpan<byte> key, EngineSnapshot? snapshot)
    {
        var handle = CfHandle(cf);
        CheckKey(key);
        CheckSnapshot(snapshot);
        using var lease = Enter();
        var readOptions = _db.Options.Read;
        var snapshotRef = false;
        try
        {
            if (snapshot is not null)
            {
                snapshot.Handle.DangerousAddRef(ref snapshotRef);
                readOptions = snapshot.Handle.ReadOptions;
            }

            byte* err = null;
            nint slice;
            fixed (byte* k = key)
            {
                slice = rocksdb_get_pinned_cf(lease.Db, readOptions, handle, k, (nuint)key.Length, &err);
            }

            NativeError.ThrowIfSet(err, "get", ColumnFamilyNames.Of(cf), Path);
            return slice;
        }
        finally
        {
            if (snapshotRef)
            {
                snapshot!.Handle.DangerousRelease();
            }
        }
    }

    private static ReadOnlySpan<byte> PinnedValue(nint slice)
    {
        nuint length;
        var value = rocksdb_pinnableslice_value(slice, &length);
        return new ReadOnlySpan<byte>(value, checked((int)length));
    }

    private void CheckSnapshot(EngineSnapshot? snapshot)
    {
        if (snapshot is not null && !ReferenceEquals(snapshot.Engine, this))
        {
            throw new ArgumentException($"the snapshot was taken of another engine; take snapshots with this engine's GetSnapshot ({Path})", nameof(snapshot));
        }
    }

    private static string? TakeString(byte* value)
    {
        if (value == null)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8((nint)value);
        }
        finally
        {
            rocksdb_free(value);
        }
    }

    private static int IndexOf(string name)
    {
        for (var i = 0; i < ColumnFamilyNames.All.Count; i++)
        {
            if (ColumnFamilyNames.All[i] == name)
            {
                return i;
            }
        }

        return -1;
    }

    private static void Validate(EngineOptions o)
    {
        static void Require(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException($"invalid engine options: {message}");
            }
        }

        Require(o.BlockCacheBytes >= 0, "BlockCacheBytes must not be negative");
        Require(o.MaxBackgroundJobs >= 1, "MaxBackgroundJobs must be at least 1");
        Require(o.MaxKeyBytes is >= 1 and <= 8 << 20, "MaxKeyBytes must be between 1 and 8 MiB");
        Require(o.MaxValueBytes is >= 0 and <= 1 << 30, "MaxValueBytes must be between 0 and 1 GiB");
        foreach (var (cf, cfo) in o.ColumnFamilies)
        {
            Require(Enum.IsDefined(cf), $"{cf} is not a column family");
            Require(cfo.WriteBufferBytes >= 64 << 10, $"{ColumnFamilyNames.Of(cf)}: WriteBufferBytes must be at least 64 KiB");
            Require(cfo.BloomBitsPerKey is >= 0 and <= 64, $"{ColumnFamilyNames.Of(cf)}: BloomBitsPerKey must be between 0 and 64");
            Require(Enum.IsDefined(cfo.Compression), $"{ColumnFamilyNames.Of(cf)}: unknown compression {(int)cfo.Compression}");
        }
    }

    private static void ValidateNames(IReadOnlyList<string> names)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (string.IsNullOrEmpty(name) || name.Contains('\0', StringComparison.Ordinal) || Encoding.UTF8.GetByteCount(name) > 255)
            {
                throw new ArgumentException($"invalid column family name '{name?.Replace("\0", "\\0", StringComparison.Ordinal)}': names are 1 to 255 bytes of UTF-8 without NUL");
            }

            if (!seen.Add(name))
            {
                throw new ArgumentException($"column family '{name}' is listed twice");
            }
        }

        if (!seen.Contains("default"))
        {
            throw new ArgumentException("the 'default' column family must be opened: RocksDB requires it");
        }
    }
}
