namespace Kv.Node.Ranges;

/// <summary>
/// A proposal or read could not be served because this replica does not lead its group (or
/// stopped leading before the outcome was known). LeaderMemberId is the hint (0: unknown).
/// For a proposal, the command may still be applied by a later leader: callers retry only
/// idempotent commands, or report the outcome as unknown.
/// </summary>
internal sealed class GroupNotLeaderException : Exception
{
    public GroupNotLeaderException(ulong groupId, ulong leaderMemberId)
        : base($"group {groupId}: this replica is not the leader" + (leaderMemberId != 0 ? $" (leader is member {leaderMemberId})" : " (leader unknown)"))
    {
        GroupId = groupId;
        LeaderMemberId = leaderMemberId;
    }

    public GroupNotLeaderException()
    {
    }

    public GroupNotLeaderException(string message)
        : base(message)
    {
    }

    public GroupNotLeaderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ulong GroupId { get; }

    public ulong LeaderMemberId { get; }
}

/// <summary>The store has no group with this id (the range moved, or the request went to the wrong store).</summary>
internal sealed class GroupNotFoundException : Exception
{
    public GroupNotFoundException(ulong groupId)
        : base($"this store has no replica of group {groupId}") => GroupId = groupId;

    public GroupNotFoundException()
    {
    }

    public GroupNotFoundException(string message)
        : base(message)
    {
    }

    public GroupNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ulong GroupId { get; }
}
