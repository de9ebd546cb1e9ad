using System.Runtime.InteropServices;

namespace Kv.Node.Storage.Native;

/// <summary>Turns RocksDB's <c>errptr</c> out-parameter into a <see cref="StorageException"/>.</summary>
internal static unsafe class NativeError
{
    /// <summary>
    /// Throws if <paramref name="error"/> is set, after freeing it. The arguments name the
    /// operation ("put"), the column family (or null) and the engine's directory; they are
    /// strings that already exist, so the success path allocates nothing.
    /// </summary>
    public static void ThrowIfSet(byte* error, string operation, string? columnFamily, string path)
    {
        if (error != null)
        {
            Throw(error, columnFamily is null ? $"{operation} at {path}" : $"{operation} on column family '{columnFamily}' at {path}");
        }
    }

    // Kept out of line so callers' fast paths stay small.
    private static void Throw(byte* error, string context)
    {
        string native;
        try
        {
            native = Marshal.PtrToStringUTF8((nint)error) ?? "unknown error";
        }
        finally
        {
            NativeMethods.rocksdb_free(error);
        }

        var kind = StorageException.Classify(native);
        throw new StorageException(kind, $"{context} failed: {native}{Advice(kind)}", native);
    }

    /// <summary>What an operator should do about each kind of failure.</summary>
    public static string Advice(StorageErrorKind kind) => kind switch
    {
        StorageErrorKind.Corruption => ". The data on disk is damaged; do not keep serving from this store: remove it from the cluster and rebuild it from a replica or a backup.",
        StorageErrorKind.Locked => ". Another process (or another engine in this process) has this data directory open; stop it, or use a different data directory.",
        StorageErrorKind.NoSpace => ". The disk is full; free space or move the store to a larger volume.",
        StorageErrorKind.IOError => ". Check the disk and the directory's permissions.",
        StorageErrorKind.NotSupported => ". This librocksdb build lacks the feature; change the option or install a build that has it.",
        _ => ".",
    };
}
