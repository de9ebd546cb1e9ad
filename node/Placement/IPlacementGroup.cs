using Kv.Proto.V1;

namespace Kv.Node.Placement;

/// <summary>
/// The placement Raft group (group id 0) as the placement service sees it. The multi-raft store
/// implements it: it hosts the group on the store's engine, applies committed
/// <see cref="PlacementCommand"/>s to <see cref="State"/> in log order and persists their
/// mutations with the apply index.
/// </summary>
internal interface IPlacementGroup
{
    /// <summary>Whether this node is a placement member (one of the first 1/3/5 nodes).</summary>
    bool IsMember { get; }

    /// <summary>This node's member id; 0 when not a member.</summary>
    ulong LocalMemberId { get; }

    /// <summary>Every placement member (id and address), from configuration.</summary>
    IReadOnlyList<PlacementMember> Members { get; }

    /// <summary>The member this node believes leads the group; 0 when unknown.</summary>
    ulong LeaderId { get; }

    /// <summary>The term in which this node leads; 0 when it is not the leader.</summary>
    ulong LeaderTerm { get; }

    /// <summary>The state as applied on this node (possibly behind the leader's on a follower).</summary>
    PlacementState State { get; }

    /// <summary>
    /// Proposes <paramref name="command"/>; completes once it is applied on this node, with the
    /// result of <see cref="PlacementState.Apply"/>. Throws <see cref="PlacementNotLeaderException"/>
    /// when this node is not (or stops being) the leader before the command is applied, and
    /// <see cref="OperationCanceledException"/> when <paramref name="ct"/> fires (the outcome is
    /// then unknown: the command may still commit).
    /// </summary>
    Task<PlacementApplyResult> ProposeAsync(PlacementCommand command, CancellationToken ct);

    /// <summary>
    /// A linearizable read point (ReadIndex): completes once this node, the leader, has applied
    /// everything committed before the call. Throws <see cref="PlacementNotLeaderException"/> when
    /// this node is not the leader, <see cref="OperationCanceledException"/> on <paramref name="ct"/>.
    /// </summary>
    Task ReadBarrierAsync(CancellationToken ct);
}

/// <summary>This node is not the placement leader (or lost leadership while a request waited).</summary>
internal sealed class PlacementNotLeaderException : Exception
{
    public PlacementNotLeaderException()
        : this(0)
    {
    }

    public PlacementNotLeaderException(string message)
        : base(message)
    {
    }

    public PlacementNotLeaderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public PlacementNotLeaderException(ulong leaderId)
        : base(leaderId == 0 ? "this node is not the placement leader and knows no leader" : $"this node is not the placement leader; member {leaderId} is")
    {
        LeaderId = leaderId;
    }

    /// <summary>The leader this node knows of; 0 when unknown.</summary>
    public ulong LeaderId { get; }
}
