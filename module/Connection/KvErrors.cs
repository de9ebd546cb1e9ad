using System.Management.Automation;
using System.Security.Cryptography;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Proto.V1;

namespace Kv.PowerShell.Connection;

/// <summary>
/// The ErrorRecords of the module. Error ids are stable (scripts match on them, with the cmdlet's
/// name PowerShell appends): a refusal from placement carries its code ("FailedPrecondition",
/// "NotFound", ...), client-side checks have their own ids. Categories:
/// NotFound ObjectNotFound; InvalidArgument and checks of arguments InvalidArgument; FailedPrecondition
/// and StoreRemoved (a refusal in the cluster's current state) InvalidOperation; Conflict (an id
/// reused with other content) ResourceExists; Unavailable, NotBootstrapped ResourceUnavailable;
/// ClusterIdMismatch ConnectionError; a forced action without a reason PermissionDenied;
/// WriteConflict, TxnAborted and KeyIsLocked (retry the transaction) ResourceBusy; CommitOutcomeUnknown
/// (never retried: read to learn the outcome) OperationTimeout.
/// </summary>
internal static class KvErrors
{
    public static ErrorRecord From(Exception exception, object? target) => exception switch
    {
        KvAdminException refusal => Refusal(refusal, target),
        KvException e => Record(e, e.Kind.ToString(), CategoryOf(e.Kind), target, e.Message + Advice(e.Kind)),
        PSArgumentException e => Record(e, "InvalidArgument", ErrorCategory.InvalidArgument, target, e.Message),
        ArgumentException e => Record(e, "InvalidArgument", ErrorCategory.InvalidArgument, target, e.Message),
        FileNotFoundException e => Record(e, "FileNotFound", ErrorCategory.ObjectNotFound, target, e.Message),
        CryptographicException e => Record(e, "InvalidCertificate", ErrorCategory.InvalidData, target,
            $"the CA certificate could not be read ({e.Message}); pass a PEM or DER X.509 certificate file"),
        _ => Record(exception, "Unexpected", ErrorCategory.NotSpecified, target, exception.Message),
    };

    public static ErrorRecord Refusal(KvAdminException refusal, object? target)
    {
        var id = CodeName(refusal.Code);
        var category = refusal.Code switch
        {
            PlacementErrorCode.PlacementErrorNotFound => ErrorCategory.ObjectNotFound,
            PlacementErrorCode.PlacementErrorInvalidArgument => ErrorCategory.InvalidArgument,
            PlacementErrorCode.PlacementErrorConflict => ErrorCategory.ResourceExists,
            PlacementErrorCode.PlacementErrorFailedPrecondition or PlacementErrorCode.PlacementErrorStoreRemoved => ErrorCategory.InvalidOperation,
            _ => CategoryOf(refusal.Kind),
        };
        return Record(refusal, id, category, target, refusal.Message);
    }

    /// <summary>-Force without -Reason: refused before any call.</summary>
    public static ErrorRecord ForceNeedsReason(string what, object? target) =>
        Record(new PSArgumentException($"-Force needs -Reason \"why\": {what} is audited with its reason; nothing was sent"),
            "ForceNeedsReason", ErrorCategory.PermissionDenied, target, null);

    /// <summary>No -Endpoint and no Connect-KvCluster in this session.</summary>
    public static ErrorRecord NotConnected() =>
        Record(new InvalidOperationException("not connected to a cluster: run Connect-KvCluster -Endpoint host:port first, or pass -Endpoint host:port to this cmdlet"),
            "NotConnected", ErrorCategory.ConnectionError, null, null);

    public static ErrorRecord Invalid(string errorId, string message, object? target) =>
        Record(new PSArgumentException(message), errorId, ErrorCategory.InvalidArgument, target, null);

    public static ErrorRecord Record(Exception exception, string errorId, ErrorCategory category, object? target, string? message)
    {
        var record = new ErrorRecord(exception, errorId, category, target);
        if (message is not null && message != exception.Message)
        {
            record.ErrorDetails = new ErrorDetails(message);
        }

        return record;
    }

    /// <summary>PLACEMENT_ERROR_FAILED_PRECONDITION as "FailedPrecondition".</summary>
    public static string CodeName(PlacementErrorCode code)
    {
        var name = code.ToString();
        return name.StartsWith("PlacementError", StringComparison.Ordinal) && name.Length > "PlacementError".Length ? name["PlacementError".Length..] : name;
    }

    private static ErrorCategory CategoryOf(KvErrorKind kind) => kind switch
    {
        KvErrorKind.NotFound => ErrorCategory.ObjectNotFound,
        KvErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        KvErrorKind.Refused => ErrorCategory.InvalidOperation,
        KvErrorKind.Conflict => ErrorCategory.ResourceExists,
        KvErrorKind.Unavailable or KvErrorKind.NotBootstrapped => ErrorCategory.ResourceUnavailable,
        KvErrorKind.ClusterIdMismatch => ErrorCategory.ConnectionError,
        // Transactions: nothing of it committed; retrying the whole transaction may succeed.
        KvErrorKind.WriteConflict or KvErrorKind.TxnAborted or KvErrorKind.KeyIsLocked => ErrorCategory.ResourceBusy,
        // The commit was sent and no answer settled it: it may or may not have committed.
        KvErrorKind.CommitOutcomeUnknown => ErrorCategory.OperationTimeout,
        _ => ErrorCategory.NotSpecified,
    };

    private static string Advice(KvErrorKind kind) => kind switch
    {
        KvErrorKind.Unavailable => "; check that the nodes run and the endpoints are right (Connect-KvCluster -Endpoint host:port), then retry",
        KvErrorKind.WriteConflict or KvErrorKind.TxnAborted => "; nothing was committed: run the whole transaction again",
        KvErrorKind.CommitOutcomeUnknown => "; the transaction may or may not have committed: read the keys to learn which before doing anything else",
        _ => string.Empty,
    };
}
