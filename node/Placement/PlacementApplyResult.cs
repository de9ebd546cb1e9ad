using Kv.Node.Placement.Operations;
using Kv.Proto.V1;

namespace Kv.Node.Placement;

/// <summary>
/// What applying one committed <see cref="PlacementCommand"/> did. A refusal is a result with a
/// <see cref="Code"/> other than NONE and no <see cref="Mutations"/>: it changed nothing.
/// </summary>
internal sealed class PlacementApplyResult
{
    private static readonly KeyValuePair<byte[], byte[]?>[] NoMutations = [];

    private PlacementApplyResult(PlacementErrorCode code, string message, IReadOnlyList<KeyValuePair<byte[], byte[]?>> mutations)
    {
        Code = code;
        Message = message;
        Mutations = mutations;
    }

    /// <summary>NONE when applied (possibly as a no-op); otherwise why the command was refused.</summary>
    public PlacementErrorCode Code { get; }

    /// <summary>What happened and, for a refusal, what to do.</summary>
    public string Message { get; }

    /// <summary>Whether the command changed the state (false for refusals and no-ops such as a stale PutRange).</summary>
    public bool Changed => Mutations.Count > 0;

    /// <summary>
    /// Records to stage, in order, into the Meta column family in the same write batch as the
    /// entry's apply index; a null value deletes the key. Empty for refusals and no-ops.
    /// </summary>
    public IReadOnlyList<KeyValuePair<byte[], byte[]?>> Mutations { get; }

    /// <summary>AllocId: the first id of the batch [FirstId, FirstId + count).</summary>
    public ulong FirstId { get; private init; }

    /// <summary>Bootstrap: the first range as bootstrapped.</summary>
    public RangeDescriptor? FirstRange { get; private init; }

    /// <summary>The cluster id after the command (Bootstrap, and ALREADY_BOOTSTRAPPED: the existing one); empty before bootstrap.</summary>
    public string ClusterId { get; private init; } = string.Empty;

    /// <summary>ExtendTsoWindow: the window end after the command (unchanged when the command asked for a lower one).</summary>
    public long TsoWindowEndMs { get; private init; }

    /// <summary>
    /// Submit, update and cancel: the operation's complete record after the command; for an
    /// idempotent resubmit and for a CONFLICT refusal, the record that exists. Built on each read
    /// (a fresh copy the caller may change), so an apply never copies a long plan nobody reads.
    /// </summary>
    public OperationRecord? Operation => OperationEntry?.ToRecord();

    /// <summary>The operation <see cref="Operation"/> is built from (frozen: never mutate it).</summary>
    internal OperationEntry? OperationEntry { get; private init; }

    internal static PlacementApplyResult Refused(PlacementErrorCode code, string message, string clusterId = "", OperationEntry? operation = null) =>
        new(code, message, NoMutations) { ClusterId = clusterId, OperationEntry = operation };

    internal static PlacementApplyResult Applied(string message, IReadOnlyList<KeyValuePair<byte[], byte[]?>> mutations,
        ulong firstId = 0, RangeDescriptor? firstRange = null, string clusterId = "", long tsoWindowEndMs = 0, OperationEntry? operation = null) =>
        new(PlacementErrorCode.PlacementErrorNone, message, mutations)
        {
            FirstId = firstId,
            FirstRange = firstRange,
            ClusterId = clusterId,
            TsoWindowEndMs = tsoWindowEndMs,
            OperationEntry = operation,
        };

    public override string ToString() => $"{Code}: {Message} ({Mutations.Count} mutations)";
}
