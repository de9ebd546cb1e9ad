namespace Kv.Node.Ranges.RaftLog;

/// <summary>
/// A record of a Raft group's persistent log is missing, short, of an unknown version or
/// otherwise undecodable. A broken invariant: the replica must stop rather than guess, because
/// continuing could acknowledge or apply something that is not what was persisted.
/// </summary>
internal sealed class RaftLogCorruptException : Exception
{
    public RaftLogCorruptException(ulong groupId, string record, string detail)
        : base($"raft log of group {groupId} is corrupt: {record}: {detail}")
    {
        GroupId = groupId;
    }

    public RaftLogCorruptException()
        : this("raft log is corrupt")
    {
    }

    public RaftLogCorruptException(string message)
        : base(message)
    {
    }

    public RaftLogCorruptException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ulong GroupId { get; }
}
