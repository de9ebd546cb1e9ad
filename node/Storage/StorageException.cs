namespace Kv.Node.Storage;

/// <summary>What kind of failure RocksDB reported, so callers and operators can react without parsing text.</summary>
public enum StorageErrorKind
{
    /// <summary>Anything not classified below.</summary>
    Other,

    /// <summary>Data on disk is damaged: restore this store from a replica or a backup.</summary>
    Corruption,

    /// <summary>The caller asked for something RocksDB refuses (bad option, unknown file, keys out of order).</summary>
    InvalidArgument,

    /// <summary>The operating system failed a read, write or sync.</summary>
    IOError,

    /// <summary>The disk is full.</summary>
    NoSpace,

    /// <summary>Another process, or another engine in this one, holds the data directory's lock.</summary>
    Locked,

    /// <summary>The library lacks a feature (for example a compression codec).</summary>
    NotSupported,

    /// <summary>The native library is missing or the wrong version.</summary>
    LibraryMissing,
}

/// <summary>
/// A failure reported by RocksDB. <see cref="Exception.Message"/> says what happened and what to
/// do; <see cref="NativeMessage"/> carries RocksDB's own text unchanged.
/// </summary>
public sealed class StorageException : Exception
{
    public StorageException()
    {
    }

    public StorageException(string message)
        : base(message)
    {
    }

    public StorageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public StorageException(StorageErrorKind kind, string message, string? nativeMessage, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
        NativeMessage = nativeMessage;
    }

    public StorageErrorKind Kind { get; }

    /// <summary>RocksDB's status text, for example "Corruption: bad block contents".</summary>
    public string? NativeMessage { get; }

    /// <summary>Classifies a RocksDB status string by the prefixes <c>Status::ToString</c> writes.</summary>
    public static StorageErrorKind Classify(string native)
    {
        ArgumentNullException.ThrowIfNull(native);
        if (native.Contains("/LOCK:", StringComparison.Ordinal) || native.Contains("lock hold by current process", StringComparison.Ordinal))
        {
            return StorageErrorKind.Locked;
        }

        if (native.Contains("No space left on device", StringComparison.Ordinal))
        {
            return StorageErrorKind.NoSpace;
        }

        return native switch
        {
            _ when native.StartsWith("Corruption", StringComparison.Ordinal) => StorageErrorKind.Corruption,
            _ when native.StartsWith("Invalid argument", StringComparison.Ordinal) => StorageErrorKind.InvalidArgument,
            _ when native.StartsWith("IO error", StringComparison.Ordinal) => StorageErrorKind.IOError,
            _ when native.StartsWith("Not implemented", StringComparison.Ordinal) => StorageErrorKind.NotSupported,
            _ => StorageErrorKind.Other,
        };
    }
}
