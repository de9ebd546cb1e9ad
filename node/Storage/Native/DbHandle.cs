using System.Runtime.InteropServices;
using static Kv.Node.Storage.Native.NativeMethods;

namespace Kv.Node.Storage.Native;

/// <summary>
/// Owns an open <c>rocksdb_t</c>, its column family handles and its <see cref="NativeOptions"/>.
///
/// Lifetime contract:
/// 1. Every native call that uses the database runs inside a <see cref="Lease"/> (a SafeHandle
///    reference), so disposing the engine on one thread never frees the database under a call
///    running on another.
/// 2. Iterators and snapshots hold a reference for as long as they live (<see cref="DbChildHandle"/>),
///    so the database outlives every object that points into it, even a leaked one.
/// 3. When the last reference goes, the column family handles are destroyed, then the database is
///    closed, then the options are destroyed: the order RocksDB requires.
/// </summary>
internal sealed class DbHandle : SafeHandle
{
    public DbHandle(nint db, nint[] columnFamilies, NativeOptions options)
        : base(0, ownsHandle: true)
    {
        SetHandle(db);
        ColumnFamilies = columnFamilies;
        Options = options;
    }

    /// <summary>Column family handles, indexed by <see cref="ColumnFamily"/>. Valid while a lease is held.</summary>
    public nint[] ColumnFamilies { get; }

    public NativeOptions Options { get; }

    public override bool IsInvalid => handle == 0;

    /// <summary>Takes a reference for the duration of one call; throws <see cref="ObjectDisposedException"/> if closed.</summary>
    public Lease Acquire() => new(this);

    protected override bool ReleaseHandle()
    {
        foreach (var cf in ColumnFamilies)
        {
            rocksdb_column_family_handle_destroy(cf);
        }

        rocksdb_close(handle);
        Options.Destroy();
        return true;
    }

    /// <summary>A reference on the handle, released by <see cref="Dispose"/>; cheap (two interlocked operations).</summary>
    public readonly ref struct Lease
    {
        private readonly DbHandle _owner;

        public Lease(DbHandle owner)
        {
            var added = false;
            owner.DangerousAddRef(ref added);
            _owner = owner;
        }

        public nint Db => _owner.handle;

        public void Dispose() => _owner.DangerousRelease();
    }
}

/// <summary>
/// A native object that points into an open database (an iterator, a snapshot): it keeps the
/// database referenced until it is released, then lets it go.
/// </summary>
internal abstract class DbChildHandle : SafeHandle
{
    protected DbChildHandle(DbHandle parent)
        : base(0, ownsHandle: true)
    {
        var added = false;
        parent.DangerousAddRef(ref added);
        Parent = parent;
    }

    protected DbHandle Parent { get; }

    public override bool IsInvalid => handle == 0;

    /// <summary>Sets the native pointer once it exists (after the parent reference is taken).</summary>
    protected void Attach(nint native) => SetHandle(native);

    protected sealed override bool ReleaseHandle()
    {
        try
        {
            ReleaseNative();
        }
        finally
        {
            Parent.DangerousRelease();
        }

        return true;
    }

    protected abstract void ReleaseNative();
}

/// <summary>An iterator, the read options it was created with, and the bound keys those point to.</summary>
internal sealed unsafe class IteratorHandle : DbChildHandle
{
    private readonly nint _readOptions;
    private readonly byte* _bounds; // lower and upper bound keys; RocksDB keeps pointers to them
    private readonly SnapshotHandle? _snapshot; // referenced so the snapshot outlives the iterator

    public IteratorHandle(DbHandle parent, nint cf, ReadOnlySpan<byte> lowerBound, ReadOnlySpan<byte> upperBound, SnapshotHandle? snapshot, bool fillCache)
        : base(parent)
    {
        // Until Attach, the handle is invalid and ReleaseHandle will never run: a failure here
        // must give back what it took, or the database would stay referenced (and locked) forever.
        if (snapshot is not null)
        {
            var added = false;
            try
            {
                snapshot.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
                Parent.DangerousRelease();
                throw new ObjectDisposedException(nameof(EngineSnapshot), "the snapshot was disposed; take a new one with Engine.GetSnapshot");
            }

            _snapshot = snapshot;
        }

        _readOptions = rocksdb_readoptions_create();
        rocksdb_readoptions_set_fill_cache(_readOptions, fillCache ? (byte)1 : (byte)0);
        if (lowerBound.Length + upperBound.Length > 0)
        {
            _bounds = (byte*)NativeMemory.Alloc((nuint)(lowerBound.Length + upperBound.Length));
            lowerBound.CopyTo(new Span<byte>(_bounds, lowerBound.Length));
            upperBound.CopyTo(new Span<byte>(_bounds + lowerBound.Length, upperBound.Length));
            if (!lowerBound.IsEmpty)
            {
                rocksdb_readoptions_set_iterate_lower_bound(_readOptions, _bounds, (nuint)lowerBound.Length);
            }

            if (!upperBound.IsEmpty)
            {
                rocksdb_readoptions_set_iterate_upper_bound(_readOptions, _bounds + lowerBound.Length, (nuint)upperBound.Length);
            }
        }

        if (snapshot is not null)
        {
            rocksdb_readoptions_set_snapshot(_readOptions, snapshot.DangerousGetHandle());
        }

        Attach(rocksdb_create_iterator_cf(parent.DangerousGetHandle(), _readOptions, cf));
    }

    protected override void ReleaseNative()
    {
        rocksdb_iter_destroy(handle);
        rocksdb_readoptions_destroy(_readOptions);
        if (_bounds != null)
        {
            NativeMemory.Free(_bounds);
        }

        _snapshot?.DangerousRelease();
    }
}

/// <summary>A database snapshot and read options that read at it.</summary>
internal sealed class SnapshotHandle : DbChildHandle
{
    public SnapshotHandle(DbHandle parent)
        : base(parent)
    {
        Attach(rocksdb_create_snapshot(parent.DangerousGetHandle()));
        ReadOptions = rocksdb_readoptions_create();
        rocksdb_readoptions_set_snapshot(ReadOptions, handle);
    }

    /// <summary>Read options with this snapshot set; valid while the handle is referenced.</summary>
    public nint ReadOptions { get; }

    protected override void ReleaseNative()
    {
        rocksdb_readoptions_destroy(ReadOptions);
        rocksdb_release_snapshot(Parent.DangerousGetHandle(), handle);
    }
}

/// <summary>A native object with a plain destroy function and no tie to a database.</summary>
internal sealed class OwnedHandle : SafeHandle
{
    private readonly Action<nint> _destroy;

    public OwnedHandle(nint native, Action<nint> destroy)
        : base(0, ownsHandle: true)
    {
        _destroy = destroy;
        SetHandle(native);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        _destroy(handle);
        return true;
    }
}
