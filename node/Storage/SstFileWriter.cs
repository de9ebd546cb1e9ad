using System.Runtime.InteropServices;
using Kv.Node.Storage.Native;
using static Kv.Node.Storage.Native.NativeMethods;

namespace Kv.Node.Storage;

/// <summary>
/// Writes one SST file for a column family, to be added with <see cref="Engine.IngestExternalFiles"/>
/// (snapshots for new replicas, restores). Keys must be added in strictly ascending order; RocksDB
/// refuses anything else with a <see cref="StorageException"/>. One thread at a time.
/// </summary>
public sealed unsafe class SstFileWriter : IDisposable
{
    private readonly OwnedHandle _writer;
    private readonly Engine _engine;
    private bool _finished;

    private SstFileWriter(Engine engine, OwnedHandle writer, string path)
    {
        _engine = engine;
        _writer = writer;
        Path = path;
    }

    /// <summary>The file being written, as an absolute path.</summary>
    public string Path { get; }

    internal static SstFileWriter Open(Engine engine, nint columnFamilyOptions, string path)
    {
        var env = rocksdb_envoptions_create();
        OwnedHandle writer;
        try
        {
            writer = new OwnedHandle(rocksdb_sstfilewriter_create(env, columnFamilyOptions), rocksdb_sstfilewriter_destroy);
        }
        finally
        {
            rocksdb_envoptions_destroy(env); // the writer copies the env options
        }

        byte* err = null;
        fixed (byte* p = Engine.Utf8Z(path))
        {
            rocksdb_sstfilewriter_open(writer.DangerousGetHandle(), p, &err);
        }

        if (err != null)
        {
            writer.Dispose();
            NativeError.ThrowIfSet(err, "opening an SST file", null, path);
        }

        return new SstFileWriter(engine, writer, path);
    }

    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var native = Native;
        _engine.CheckKey(key);
        _engine.CheckValue(value);
        byte* err = null;
        fixed (byte* k = key)
        fixed (byte* v = &MemoryMarshal.GetReference(value.IsEmpty ? Engine.NonNull : value))
        {
            rocksdb_sstfilewriter_put(native, k, (nuint)key.Length, v, (nuint)value.Length, &err);
        }

        NativeError.ThrowIfSet(err, "SST put", null, Path);
    }

    /// <summary>Records a deletion of <paramref name="key"/> that hides older versions when ingested.</summary>
    public void Delete(ReadOnlySpan<byte> key)
    {
        var native = Native;
        _engine.CheckKey(key);
        byte* err = null;
        fixed (byte* k = key)
        {
            rocksdb_sstfilewriter_delete(native, k, (nuint)key.Length, &err);
        }

        NativeError.ThrowIfSet(err, "SST delete", null, Path);
    }

    /// <summary>Completes the file and returns its size in bytes. A file with no entries cannot be finished.</summary>
    public ulong Finish()
    {
        var native = Native;
        byte* err = null;
        rocksdb_sstfilewriter_finish(native, &err);
        NativeError.ThrowIfSet(err, "finishing an SST file", null, Path);
        _finished = true;
        ulong size;
        rocksdb_sstfilewriter_file_size(native, &size);
        return size;
    }

    public void Dispose() => _writer.Dispose();

    private nint Native
    {
        get
        {
            if (_writer.IsClosed)
            {
                throw new ObjectDisposedException(nameof(SstFileWriter), "the SST writer was disposed");
            }

            if (_finished)
            {
                throw new InvalidOperationException($"the SST file {Path} is already finished; write another file with a new writer");
            }

            return _writer.DangerousGetHandle();
        }
    }
}
