namespace Kv.Node.Raft;

/// <summary>Where a snapshot sits in the log and which configuration was in force at that index.</summary>
internal readonly record struct SnapshotMetadata(ulong Index, ulong Term, ConfState ConfState);

/// <summary>
/// A point-in-time image of the state machine up to and including Metadata.Index. The core never
/// looks inside Data; the application builds it (from its applied state) and installs it.
/// </summary>
internal sealed record Snapshot(SnapshotMetadata Metadata, ReadOnlyMemory<byte> Data)
{
    public static readonly Snapshot Empty = new(new SnapshotMetadata(0, 0, ConfState.Empty), ReadOnlyMemory<byte>.Empty);

    public bool IsEmpty => Metadata.Index == 0;

    public ulong Index => Metadata.Index;

    public ulong Term => Metadata.Term;
}
