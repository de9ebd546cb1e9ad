namespace Kv.Client.Cluster;

/// <summary>What kind of failure a <see cref="KvException"/> reports; kvctl maps each to an exit code.</summary>
public enum KvErrorKind
{
    /// <summary>A bug or an answer the client cannot interpret; not retried.</summary>
    Internal = 0,

    /// <summary>The cluster could not be reached, or no leader answered, within the operation's deadline.</summary>
    Unavailable = 1,

    /// <summary>The server refused the request's content (for example a key larger than the node accepts); nothing was applied.</summary>
    InvalidArgument = 2,

    /// <summary>The named object (range, store) does not exist.</summary>
    NotFound = 3,

    /// <summary>The cluster has not been bootstrapped yet: run <c>kvctl cluster bootstrap</c>.</summary>
    NotBootstrapped = 4,

    /// <summary>The endpoints belong to a different cluster than the one this client first talked to.</summary>
    ClusterIdMismatch = 5,

    /// <summary>
    /// The server refused a well-formed request as unsafe or impossible in the cluster's current
    /// state (removing the last voter, a range mid-change, a store that is not Up); nothing changed.
    /// </summary>
    Refused = 6,
}
