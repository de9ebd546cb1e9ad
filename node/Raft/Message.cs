namespace Kv.Node.Raft;

/// <summary>Every message kind. The first group never crosses the network (see IsLocal).</summary>
internal enum MessageType : byte
{
    // Local: produced and consumed inside one member.
    Hup,
    Beat,
    CheckQuorum,
    Unreachable,
    SnapStatus,

    // Local or remote (forwarded by followers to the leader).
    Prop,
    ReadIndex,
    TransferLeader,

    // Remote.
    App,
    AppResp,
    Vote,
    VoteResp,
    PreVote,
    PreVoteResp,
    Snap,
    Heartbeat,
    HeartbeatResp,
    ReadIndexResp,
    TimeoutNow,
}

/// <summary>
/// One Raft message. Fields follow etcd's raftpb.Message; unused fields are zero. A message is
/// treated as immutable once it has been handed out in a Ready: the simulator may deliver the
/// same instance twice.
/// </summary>
internal sealed class Message
{
    public MessageType Type { get; set; }

    public ulong To { get; set; }

    public ulong From { get; set; }

    /// <summary>The sender's term; 0 for local messages and for forwarded Prop/ReadIndex.</summary>
    public ulong Term { get; set; }

    /// <summary>App: term of the entry at Index. Vote: term of the candidate's last entry. AppResp reject: term at RejectHint.</summary>
    public ulong LogTerm { get; set; }

    /// <summary>App: index before the first entry. Vote: candidate's last index. AppResp: last index matched, or the rejected one.</summary>
    public ulong Index { get; set; }

    public Entry[] Entries { get; set; } = [];

    public ulong Commit { get; set; }

    public Snapshot? Snapshot { get; set; }

    public bool Reject { get; set; }

    /// <summary>AppResp reject: the follower's guess at the highest index that may match.</summary>
    public ulong RejectHint { get; set; }

    /// <summary>ReadIndex request id carried through heartbeats; 0 means none. Unique per group.</summary>
    public ulong Context { get; set; }

    /// <summary>Vote during a leader transfer: voters skip the check-quorum lease (dissertation 3.10).</summary>
    public bool Transfer { get; set; }

    public static bool IsLocal(MessageType t) =>
        t is MessageType.Hup or MessageType.Beat or MessageType.CheckQuorum or MessageType.Unreachable or MessageType.SnapStatus;

    public static bool IsResponse(MessageType t) =>
        t is MessageType.AppResp or MessageType.VoteResp or MessageType.PreVoteResp or MessageType.HeartbeatResp
            or MessageType.Unreachable or MessageType.SnapStatus;

    public static MessageType VoteResponseType(MessageType t) => t switch
    {
        MessageType.Vote => MessageType.VoteResp,
        MessageType.PreVote => MessageType.PreVoteResp,
        _ => throw new RaftInvariantException("vote-response-of-vote", $"not a vote message: {t}"),
    };

    public override string ToString() =>
        $"{From}->{To} {Type} term={Term} logterm={LogTerm} index={Index} commit={Commit}"
        + (Entries.Length > 0 ? $" entries={Entries.Length}" : "")
        + (Reject ? $" reject hint={RejectHint}" : "")
        + (Snapshot is { } s ? $" snap={s.Index}/{s.Term}" : "")
        + (Context != 0 ? $" ctx={Context}" : "")
        + (Transfer ? " transfer" : "");
}
