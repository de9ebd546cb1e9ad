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

    /// <summary>
    /// A transaction's write met a write committed after its start, or it was rolled back by a
    /// reader before its prewrite finished; nothing of it is visible. Retry the whole transaction
    /// (a new BeginAsync).
    /// </summary>
    WriteConflict = 7,

    /// <summary>A key is locked by another transaction whose lock could not be resolved before the deadline; retry later.</summary>
    KeyIsLocked = 8,

    /// <summary>
    /// The commit of a transaction's primary key was sent but no answer settled it, and neither
    /// did the rollback of the primary the client then sent to decide it (or the caller
    /// cancelled): the transaction may or may not be committed. Never retried by the client; read
    /// the keys (or check the primary's status) to learn the outcome.
    /// </summary>
    CommitOutcomeUnknown = 9,

    /// <summary>
    /// The transaction was rolled back before it could commit: by a reader or lock resolver (its
    /// lock expired), or by the client itself to settle a commit whose answer was lost. Nothing
    /// of it is visible. Retry it.
    /// </summary>
    TxnAborted = 10,

    /// <summary>
    /// The request contradicts what placement has recorded (an operation id reused with other
    /// content, an update expecting a state the record has left); nothing changed. Re-read, then decide.
    /// </summary>
    Conflict = 11,

    /// <summary>
    /// An operation the client submitted and waited for ended Failed or Cancelled (see
    /// KvOperationFailedException for its final record); what its finished steps did stays done.
    /// </summary>
    OperationFailed = 12,

    /// <summary>
    /// The transaction's start_ts (or a read's timestamp) is below the GC safe point: versions it
    /// needs may already be collected. Nothing was read or written; retry the whole transaction
    /// (a new BeginAsync takes a new start_ts).
    /// </summary>
    BelowGcSafePoint = 13,
}
