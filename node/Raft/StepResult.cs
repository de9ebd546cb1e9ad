namespace Kv.Node.Raft;

/// <summary>
/// The outcome of handing the core a message or a request. Everything except Ok is an expected,
/// recoverable condition the caller acts on (retry elsewhere, answer "not leader", drop).
/// </summary>
internal enum StepResult
{
    Ok,

    /// <summary>No leader is known; the proposal (or read, or transfer) was not accepted. Retry later.</summary>
    NoLeader,

    /// <summary>This member is not the leader and forwarding is disabled; Lead (if non-zero) is the hint.</summary>
    NotLeader,

    /// <summary>The leader is transferring leadership away and refuses proposals meanwhile.</summary>
    LeaderTransferring,

    /// <summary>This leader is no longer in the configuration.</summary>
    NotMember,

    /// <summary>A conf change was refused: another is pending, or it does not fit the joint state.</summary>
    ConfChangeRefused,

    /// <summary>A local-only message type arrived from the network.</summary>
    LocalMessageFromNetwork,

    /// <summary>A response from a member this node does not know.</summary>
    PeerNotFound,

    /// <summary>
    /// A message from the network broke the protocol's rules (a term of 0 on a type that always
    /// carries one, a proposal with no entries); it was ignored and changed nothing.
    /// </summary>
    MalformedMessage,
}
