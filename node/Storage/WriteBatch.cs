using System.Runtime.InteropServices;
using Kv.Node.Storage.Native;
using static Kv.Node.Storage.Native.NativeMethods;

namespace Kv.Node.Storage;

/// <summary>
/// Writes collected in memory and applied atomically by <see cref="Engine.Write"/>, across column
/// families. Reusable: <see cref="Clear"/> it and fill it again. One thread at a time. Keys and
/// values are validated as they are added, so a bad entry never reaches the engine.
/// </summary>
public sealed unsafe class WriteBatch : IDisposable
{
    private readonly OwnedHandle _handle;

    internal WriteBatch(Engine engine)
    {
        Engine = engine;
        _handle = new OwnedHandle(rocksdb_writebatch_create(), rocksdb_writebatch_destroy);
    }

    internal Engine Engine { get; }

    internal nint NativeHandle => Native;

    /// <summary>Number of operations in the batch.</summary>
    public int Count => rocksdb_writebatch_count(Native);

    /// <summary>Bytes of the batch's serialized form: what the WAL will write.</summary>
    public long DataSize
    {
        get
        {
            nuint size;
            rocksdb_writebatch_data(Native, &size);
            return (long)size;
        }
    }

    public void Put(ColumnFamily cf, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var native = Native;
        Engine.CheckKey(key);
        Engine.CheckValue(value);
        using var lease = Engine.Enter(); // the column family handle must stay valid during the call
        fixed (byte* k = key)
        fixed (byte* v = &MemoryMarshal.GetReference(value.IsEmpty ? Engine.NonNull : value))
        {
            rocksdb_writebatch_put_cf(native, Engine.CfHandle(cf), k, (nuint)key.Length, v, (nuint)value.Length);
        }
    }

    public void Delete(ColumnFamily cf, ReadOnlySpan<byte> key)
    {
        var native = Native;
        Engine.CheckKey(key);
        using var lease = Engine.Enter();
        fixed (byte* k = key)
        {
            rocksdb_writebatch_delete_cf(native, Engine.CfHandle(cf), k, (nuint)key.Length);
        }
    }

    /// <summary>Deletes every key in [start, end) when the batch is written.</summary>
    public void DeleteRange(ColumnFamily cf, ReadOnlySpan<byte> start, ReadOnlySpan<byte> end)
    {
        var native = Native;
        Engine.CheckRange(start, end);
        using var lease = Engine.Enter();
        fixed (byte* s = start)
        fixed (byte* e = end)
        {
            rocksdb_writebatch_delete_range_cf(native, Engine.CfHandle(cf), s, (nuint)start.Length, e, (nuint)end.Length);
        }
    }

    /// <summary>Empties the batch so it can be reused.</summary>
    public void Clear() => rocksdb_writebatch_clear(Native);

    public void Dispose() => _handle.Dispose();

    private nint Native => _handle.IsClosed
        ? throw new ObjectDisposedException(nameof(WriteBatch), "the write batch was disposed; make a new one with Engine.NewWriteBatch")
        : _handle.DangerousGetHandle();
}
