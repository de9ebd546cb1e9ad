namespace Kv.Node.Storage;

/// <summary>What <see cref="Engine.ApproximateSize"/> counts. The values are RocksDB's size approximation flags (c.h).</summary>
[Flags]
public enum SizeSources : byte
{
    /// <summary>Data written but not yet flushed (active and immutable memtables).</summary>
    Memtables = 1,

    /// <summary>Data in SST files.</summary>
    Files = 2,

    /// <summary>Both: what the key span holds, flushed or not.</summary>
    All = Memtables | Files,
}
