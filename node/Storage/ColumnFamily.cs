namespace Kv.Node.Storage;

/// <summary>The column families of a store (shared/DESIGN.md section 3).</summary>
public enum ColumnFamily
{
    /// <summary>MVCC values, keyed by encoded user key and inverted start timestamp.</summary>
    Default = 0,

    /// <summary>Percolator locks, one per key at most.</summary>
    Lock = 1,

    /// <summary>Commit and rollback records, keyed by encoded user key and inverted commit timestamp.</summary>
    Write = 2,

    /// <summary>Per-range Raft log, hard state and apply state.</summary>
    Raft = 3,

    /// <summary>Store identity and range descriptors.</summary>
    Meta = 4,
}

/// <summary>Names of <see cref="ColumnFamily"/> values as RocksDB stores them. Never rename one: it is on disk.</summary>
public static class ColumnFamilyNames
{
    public static IReadOnlyList<string> All { get; } = ["default", "lock", "write", "raft", "meta"];

    public static string Of(ColumnFamily cf) =>
        (uint)cf < (uint)All.Count ? All[(int)cf] : throw new ArgumentOutOfRangeException(nameof(cf), cf, $"not a column family; use one of {string.Join(", ", All)}");
}
