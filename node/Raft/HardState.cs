namespace Kv.Node.Raft;

/// <summary>
/// The state a member must persist before it sends any message that depends on it
/// (figure 2, "persistent state on all servers": currentTerm, votedFor) plus the commit index,
/// persisted so that a restart does not re-apply from zero.
/// </summary>
internal readonly record struct HardState(ulong Term, ulong Vote, ulong Commit)
{
    public bool IsEmpty => Term == 0 && Vote == 0 && Commit == 0;
}
