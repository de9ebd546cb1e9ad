using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations;

/// <summary>
/// How the executor reaches a range leader's node: RangeAdmin.ExecuteStep on the node at an
/// address. Implemented over gRPC by the host (Placement knows no RPC plumbing), and by fakes in tests.
/// </summary>
internal interface IRangeStepCaller
{
    /// <summary>
    /// Executes <paramref name="request"/> on the node at <paramref name="address"/>. Throws when
    /// the node could not be reached or did not answer in time (the executor treats that as the
    /// range being unavailable from there and retries, possibly elsewhere);
    /// <see cref="OperationCanceledException"/> when <paramref name="ct"/> fires.
    /// </summary>
    Task<ExecuteStepResponse> ExecuteStepAsync(string address, ExecuteStepRequest request, CancellationToken ct);
}
