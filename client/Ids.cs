namespace Kv.Client;

// Identifiers are distinct types so that a StoreId can never be passed where a RangeId is meant
// (STYLE.md "Ours"). Zero is "none" for every kind: real ids are allocated from 1.

/// <summary>A kv-node process. One node hosts one store.</summary>
public readonly record struct NodeId(ulong Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A store: one RocksDB instance on one node.</summary>
public readonly record struct StoreId(ulong Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A range of the key space, replicated by one Raft group.</summary>
public readonly record struct RangeId(ulong Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>One member of a range's Raft group; unique cluster-wide, never reused.</summary>
public readonly record struct ReplicaId(ulong Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
