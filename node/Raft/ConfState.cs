namespace Kv.Node.Raft;

/// <summary>
/// A membership configuration as stored in snapshots: voters of the incoming (and, when joint,
/// outgoing) majority, learners, and learners that become so when the joint config is left.
/// Arrays are sorted ascending and never mutated after construction.
/// </summary>
internal sealed record ConfState(
    ulong[] Voters,
    ulong[] Learners,
    ulong[] VotersOutgoing,
    ulong[] LearnersNext,
    bool AutoLeave)
{
    public static readonly ConfState Empty = new([], [], [], [], false);

    public static ConfState OfVoters(params ulong[] voters)
    {
        var v = (ulong[])voters.Clone();
        Array.Sort(v);
        return new ConfState(v, [], [], [], false);
    }

    public bool IsJoint => VotersOutgoing.Length > 0;

    /// <summary>Whether id is a member in any role (voter, outgoing voter or learner).</summary>
    public bool Contains(ulong id) =>
        Array.IndexOf(Voters, id) >= 0 || Array.IndexOf(Learners, id) >= 0 || Array.IndexOf(VotersOutgoing, id) >= 0;

    /// <summary>Value equality over the member sets (records compare arrays by reference).</summary>
    public bool SameAs(ConfState other) =>
        AutoLeave == other.AutoLeave
        && Voters.AsSpan().SequenceEqual(other.Voters)
        && Learners.AsSpan().SequenceEqual(other.Learners)
        && VotersOutgoing.AsSpan().SequenceEqual(other.VotersOutgoing)
        && LearnersNext.AsSpan().SequenceEqual(other.LearnersNext);

    public override string ToString() =>
        $"voters=({string.Join(' ', Voters)})" + (IsJoint ? $"&&({string.Join(' ', VotersOutgoing)})" : "")
        + (Learners.Length > 0 ? $" learners=({string.Join(' ', Learners)})" : "")
        + (LearnersNext.Length > 0 ? $" learners_next=({string.Join(' ', LearnersNext)})" : "")
        + (AutoLeave ? " autoleave" : "");
}
