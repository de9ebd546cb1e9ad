namespace Kv.Node.Raft;

/// <summary>
/// The membership in force: the incoming voters, the outgoing voters when joint (empty
/// otherwise), learners, and voters demoted to learners once the joint config is left.
/// </summary>
internal sealed class TrackerConfig
{
    public SortedSet<ulong> Incoming { get; } = [];

    public SortedSet<ulong> Outgoing { get; } = [];

    public SortedSet<ulong> Learners { get; } = [];

    /// <summary>Outgoing voters that become learners when leaving joint (they cannot be both at once).</summary>
    public SortedSet<ulong> LearnersNext { get; } = [];

    /// <summary>Leave the joint config automatically once entering it has been applied.</summary>
    public bool AutoLeave { get; set; }

    public bool IsJoint => Outgoing.Count > 0;

    public bool IsVoter(ulong id) => Incoming.Contains(id) || Outgoing.Contains(id);

    public TrackerConfig Clone()
    {
        var c = new TrackerConfig { AutoLeave = AutoLeave };
        c.Incoming.UnionWith(Incoming);
        c.Outgoing.UnionWith(Outgoing);
        c.Learners.UnionWith(Learners);
        c.LearnersNext.UnionWith(LearnersNext);
        return c;
    }

    public ConfState ToConfState() => new([.. Incoming], [.. Learners], [.. Outgoing], [.. LearnersNext], AutoLeave);

    public override string ToString() => ToConfState().ToString();
}
