using Kv.Client.Cluster;
using Kv.Client.Views;

namespace Kv.Client.Administration;

/// <summary>
/// An operation <see cref="KvAdminClient.RunAsync"/> submitted ended Failed or Cancelled.
/// Operation is its final record (Failure says why, CancelledBy who stopped it; its plan's steps
/// say which were done: what they did stays done). Kind is <see cref="KvErrorKind.OperationFailed"/>.
/// </summary>
public sealed class KvOperationFailedException : KvException
{
    public KvOperationFailedException(OperationView operation)
        : base(KvErrorKind.OperationFailed, Describe(operation))
    {
        Operation = operation;
    }

    public OperationView Operation { get; }

    private static string Describe(OperationView operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        return operation.State == OperationStateView.Cancelled
            ? $"operation {operation.Id} was cancelled{(operation.CancelledBy is { } by ? $" by {by}" : string.Empty)}; what it had done stays done (kvctl operation show {operation.Id})"
            : $"operation {operation.Id} ended {operation.State}: {operation.Failure ?? "no reason given"}; `kvctl audit list --operation {operation.Id}` shows what happened";
    }
}
