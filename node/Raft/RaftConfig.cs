namespace Kv.Node.Raft;

/// <summary>Parameters of one member. Ticks are abstract: the host decides how long a tick is.</summary>
internal sealed record RaftConfig
{
    /// <summary>This member's id; never 0 (0 means "none" everywhere in the core).</summary>
    public required ulong Id { get; init; }

    /// <summary>Ticks without hearing from a leader before a follower campaigns; randomized in [E, 2E).</summary>
    public int ElectionTick { get; init; } = 10;

    /// <summary>Ticks between a leader's heartbeats. Must be less than ElectionTick.</summary>
    public int HeartbeatTick { get; init; } = 1;

    /// <summary>The last index the application has applied (restart); the core re-emits committed entries after it.</summary>
    public ulong Applied { get; init; }

    /// <summary>Soft cap on the payload bytes of one append message (at least one entry is always sent).</summary>
    public ulong MaxSizePerMsg { get; init; } = 1 << 20;

    /// <summary>Soft cap on committed entry bytes handed out in one Ready.</summary>
    public ulong MaxCommittedSizePerReady { get; init; } = 4 << 20;

    /// <summary>Append messages in flight to one follower in replicate state (flow-control window).</summary>
    public int MaxInflightMsgs { get; init; } = 256;

    /// <summary>A leader that has not heard from a quorum for an election timeout steps down; followers ignore votes while they have a live leader.</summary>
    public bool CheckQuorum { get; init; } = true;

    /// <summary>Run a pre-election that does not bump terms, so a rejoining member cannot disrupt a working leader.</summary>
    public bool PreVote { get; init; } = true;

    /// <summary>When set, followers answer proposals with NotLeader instead of forwarding them.</summary>
    public bool DisableProposalForwarding { get; init; }

    public void Validate()
    {
        if (Id == 0)
        {
            throw new ArgumentException("raft id 0 is reserved for 'none'", nameof(Id));
        }

        if (HeartbeatTick <= 0)
        {
            throw new ArgumentException("HeartbeatTick must be greater than 0", nameof(HeartbeatTick));
        }

        if (ElectionTick <= HeartbeatTick)
        {
            throw new ArgumentException("ElectionTick must be greater than HeartbeatTick", nameof(ElectionTick));
        }

        if (MaxInflightMsgs <= 0)
        {
            throw new ArgumentException("MaxInflightMsgs must be greater than 0", nameof(MaxInflightMsgs));
        }
    }
}
