using Kv.Client.Cluster;
using Kv.Proto.V1;

namespace Kv.Client.Administration;

/// <summary>
/// Placement refused an admin request (PlacementError other than NOT_LEADER and UNAVAILABLE,
/// which the client retries). Code is the server's code, ServerMessage its words (what was wrong
/// and what to do); Kind classifies it for callers that only care about the class (kvctl's exit codes):
/// NOT_FOUND NotFound, INVALID_ARGUMENT InvalidArgument, CONFLICT Conflict, FAILED_PRECONDITION and
/// STORE_REMOVED Refused, NOT_BOOTSTRAPPED NotBootstrapped, CLUSTER_ID_MISMATCH ClusterIdMismatch.
/// Nothing changed when this is thrown.
/// </summary>
public sealed class KvAdminException : KvException
{
    public KvAdminException(PlacementErrorCode code, string serverMessage, string message)
        : base(KindOf(code), message)
    {
        Code = code;
        ServerMessage = serverMessage;
    }

    public PlacementErrorCode Code { get; }

    public string ServerMessage { get; }

    public static KvErrorKind KindOf(PlacementErrorCode code) => code switch
    {
        PlacementErrorCode.PlacementErrorNotFound => KvErrorKind.NotFound,
        PlacementErrorCode.PlacementErrorInvalidArgument => KvErrorKind.InvalidArgument,
        PlacementErrorCode.PlacementErrorConflict => KvErrorKind.Conflict,
        PlacementErrorCode.PlacementErrorFailedPrecondition or PlacementErrorCode.PlacementErrorStoreRemoved => KvErrorKind.Refused,
        PlacementErrorCode.PlacementErrorNotBootstrapped => KvErrorKind.NotBootstrapped,
        PlacementErrorCode.PlacementErrorClusterIdMismatch => KvErrorKind.ClusterIdMismatch,
        PlacementErrorCode.PlacementErrorUnavailable or PlacementErrorCode.PlacementErrorNotLeader => KvErrorKind.Unavailable,
        _ => KvErrorKind.Internal,
    };
}
