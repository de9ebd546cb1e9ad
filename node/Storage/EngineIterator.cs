using Kv.Node.Storage.Native;
using static Kv.Node.Storage.Native.NativeMethods;

namespace Kv.Node.Storage;

/// <summary>
/// A cursor over one column family, in key order both ways. Every move returns whether the
/// cursor is on an entry; when a move leaves it on none, a storage error (corruption, I/O) is
/// thrown rather than mistaken for the end.
///
/// Contract: <see cref="Key"/> and <see cref="Value"/> point into RocksDB's memory and are valid
/// only until the next move or <see cref="Dispose"/>; copy what must outlive that. One thread at a time.
/// </summary>
public sealed unsafe class EngineIterator : IDisposable
{
    private readonly IteratorHandle _handle;
    private readonly nint _native;
    private readonly string _path;
    private bool _valid;

    internal EngineIterator(IteratorHandle handle, string path)
    {
        _handle = handle;
        _native = handle.DangerousGetHandle();
        _path = path;
    }

    /// <summary>Whether the cursor is on an entry.</summary>
    public bool Valid => _valid;

    /// <summary>The current entry's key; valid until the next move.</summary>
    public ReadOnlySpan<byte> Key
    {
        get
        {
            ThrowIfNotOnEntry();
            nuint length;
            var p = rocksdb_iter_key(_native, &length);
            return new ReadOnlySpan<byte>(p, (int)length);
        }
    }

    /// <summary>The current entry's value; valid until the next move.</summary>
    public ReadOnlySpan<byte> Value
    {
        get
        {
            ThrowIfNotOnEntry();
            nuint length;
            var p = rocksdb_iter_value(_native, &length);
            return new ReadOnlySpan<byte>(p, (int)length);
        }
    }

    /// <summary>Moves to the first entry (at or after the lower bound).</summary>
    public bool SeekToFirst()
    {
        rocksdb_iter_seek_to_first(Native);
        return Settle();
    }

    /// <summary>Moves to the last entry (before the upper bound).</summary>
    public bool SeekToLast()
    {
        rocksdb_iter_seek_to_last(Native);
        return Settle();
    }

    /// <summary>Moves to the first entry whose key is at or after <paramref name="key"/>.</summary>
    public bool Seek(ReadOnlySpan<byte> key)
    {
        var native = Native;
        fixed (byte* k = key)
        {
            rocksdb_iter_seek(native, k, (nuint)key.Length);
        }

        return Settle();
    }

    /// <summary>Moves to the last entry whose key is at or before <paramref name="key"/>.</summary>
    public bool SeekForPrev(ReadOnlySpan<byte> key)
    {
        var native = Native;
        fixed (byte* k = key)
        {
            rocksdb_iter_seek_for_prev(native, k, (nuint)key.Length);
        }

        return Settle();
    }

    public bool Next()
    {
        ThrowIfNotOnEntry();
        rocksdb_iter_next(_native);
        return Settle();
    }

    public bool Prev()
    {
        ThrowIfNotOnEntry();
        rocksdb_iter_prev(_native);
        return Settle();
    }

    public void Dispose()
    {
        _valid = false;
        _handle.Dispose();
    }

    private nint Native => _handle.IsClosed ? ThrowDisposed() : _native;

    private bool Settle()
    {
        _valid = rocksdb_iter_valid(_native) != 0;
        if (!_valid)
        {
            byte* err = null;
            rocksdb_iter_get_error(_native, &err);
            NativeError.ThrowIfSet(err, "iterate", null, _path);
        }

        return _valid;
    }

    private void ThrowIfNotOnEntry()
    {
        if (!_valid)
        {
            if (_handle.IsClosed)
            {
                ThrowDisposed();
            }

            throw new InvalidOperationException("the iterator is not on an entry; seek first, and check the result of each move");
        }
    }

    private static nint ThrowDisposed() =>
        throw new ObjectDisposedException(nameof(EngineIterator), "the iterator was disposed; make a new one with Engine.NewIterator");
}
