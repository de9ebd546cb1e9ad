namespace Kv.Node.Raft;

/// <summary>
/// A broken internal invariant of the consensus core. Never thrown for bad input from peers
/// (that is ignored or rejected by the protocol's rules); thrown when continuing could violate
/// safety, so the member must stop. The message names the invariant.
/// </summary>
internal sealed class RaftInvariantException : Exception
{
    public RaftInvariantException(string invariant, string detail)
        : base($"raft invariant '{invariant}' broken: {detail}")
    {
        Invariant = invariant;
    }

    public RaftInvariantException()
        : this("unspecified", "")
    {
    }

    public RaftInvariantException(string message)
        : this("unspecified", message)
    {
    }

    public RaftInvariantException(string message, Exception innerException)
        : base(message, innerException)
    {
        Invariant = "unspecified";
    }

    /// <summary>A stable short name for the invariant, e.g. "commit-within-log".</summary>
    public string Invariant { get; } = "unspecified";
}
