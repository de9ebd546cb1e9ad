using Grpc.Core;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Changes;
using Kv.Node.Ranges.Transport;
using Kv.Proto.V1;

namespace Kv.Node.Server.Services;

/// <summary>
/// <c>kv.v1.Admin</c> on this store's range replicas (proto/kv/v1/admin.proto): each call is one
/// plan step built from the request (the caller's context epoch as the step's epoch) and executed
/// by the <see cref="ReplicaChangeEngine"/>, which holds the workflow and its safety rules. These
/// calls keep their statuses: routing problems are typed RangeErrors (NotLeader, EpochNotMatch,
/// RangeNotFound, RangeUnavailable); a malformed request is INVALID_ARGUMENT; a step the cluster's
/// state rules out, or a range mid-change, is FAILED_PRECONDITION; a learner removed while it
/// caught up is ABORTED. A refusal changes nothing. They wait for a learner's catch-up within the
/// call (up to <see cref="CatchUpTimeout"/> and the caller's deadline), as they always did; the
/// operation layer (DESIGN.md section 8) replaces them later. The operation API itself is in
/// AdminService.Operations.cs.
/// </summary>
internal sealed partial class AdminService(ReplicaChangeEngine engine, ulong storeId, Func<ulong, RangeReplica?> replicaOf, IStoreResolver stores, AdminOperationsContext operations) : Admin.AdminBase
{
    /// <summary>How long one call waits for a learner to catch up (bounded by the caller's deadline too).</summary>
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromMinutes(10);

    public override async Task<TransferLeaderResponse> TransferLeader(TransferLeaderRequest request, ServerCallContext context)
    {
        var ctx = RequireRange(request.Context);
        var step = new PlanStep { Kind = StepKind.TransferLeader, RangeId = ctx.RangeId, Epoch = ctx.Epoch, StoreId = request.ToStoreId };
        var (done, error) = await ExecuteAsync(step, context).ConfigureAwait(false);
        return error is not null ? new TransferLeaderResponse { Error = error }
            : new TransferLeaderResponse { Leader = done!.Range.Replicas.First(r => r.StoreId == request.ToStoreId) };
    }

    public override async Task<SplitRangeResponse> SplitRange(SplitRangeRequest request, ServerCallContext context)
    {
        var ctx = RequireRange(request.Context);
        var step = new PlanStep { Kind = StepKind.Split, RangeId = ctx.RangeId, Epoch = ctx.Epoch, SplitKey = request.SplitKey };
        var (done, error) = await ExecuteAsync(step, context).ConfigureAwait(false);
        if (error is not null)
        {
            return new SplitRangeResponse { Error = error };
        }

        return done!.Right is { } right ? new SplitRangeResponse { Left = done.Range, Right = right }
            : throw Refuse(StatusCode.Internal, $"range {ctx.RangeId}: the split ended without its right half; report this as a bug");
    }

    public override async Task<AddReplicaResponse> AddReplica(AddReplicaRequest request, ServerCallContext context)
    {
        var ctx = RequireRange(request.Context);
        var (done, error) = await ExecuteAsync(new PlanStep { Kind = StepKind.AddReplica, RangeId = ctx.RangeId, Epoch = ctx.Epoch, StoreId = request.StoreId }, context).ConfigureAwait(false);
        return error is not null ? new AddReplicaResponse { Error = error } : new AddReplicaResponse { Range = done!.Range };
    }

    public override async Task<RemoveReplicaResponse> RemoveReplica(RemoveReplicaRequest request, ServerCallContext context)
    {
        var ctx = RequireRange(request.Context);
        var (done, error) = await ExecuteAsync(new PlanStep { Kind = StepKind.RemoveReplica, RangeId = ctx.RangeId, Epoch = ctx.Epoch, StoreId = request.StoreId }, context).ConfigureAwait(false);
        return error is not null ? new RemoveReplicaResponse { Error = error } : new RemoveReplicaResponse { Range = done!.Range };
    }

    public override async Task<MoveReplicaResponse> MoveReplica(MoveReplicaRequest request, ServerCallContext context)
    {
        var ctx = RequireRange(request.Context);
        var step = new PlanStep { Kind = StepKind.MoveReplica, RangeId = ctx.RangeId, Epoch = ctx.Epoch, FromStoreId = request.FromStoreId, ToStoreId = request.ToStoreId };
        var (done, error) = await ExecuteAsync(step, context).ConfigureAwait(false);
        return error is not null ? new MoveReplicaResponse { Error = error } : new MoveReplicaResponse { Range = done!.Range };
    }

    /// <summary>Runs the step; Done, or the RangeError to answer with. Refusals throw the RpcException to answer with.</summary>
    private async Task<(StepOutcome.Done? Done, RangeError? Error)> ExecuteAsync(PlanStep step, ServerCallContext context)
    {
        var outcome = await engine.ExecuteAsync(step, CatchUpTimeout, context.CancellationToken).ConfigureAwait(false);
        return outcome switch
        {
            StepOutcome.Done done => (done, null),
            StepOutcome.NotLeader n => (null, RangeErrors.NotLeader(storeId, replicaOf, stores, step.RangeId, n.Leader?.ReplicaId ?? 0)),
            StepOutcome.EpochChanged e => (null, EpochNotMatch(e.Current)),
            StepOutcome.RangeNotFound => (null, RangeErrors.RangeNotFound(storeId, step.RangeId)),
            StepOutcome.Transient { Kind: TransientKind.MidChange } t => throw Refuse(StatusCode.FailedPrecondition, t.Reason),
            StepOutcome.Transient t => (null, new RangeError { Message = t.Reason, RangeUnavailable = new RangeUnavailable { RangeId = step.RangeId } }),
            StepOutcome.Refused { Kind: RefusalKind.BadStep } r => throw Refuse(StatusCode.InvalidArgument, r.Reason),
            StepOutcome.Refused { Kind: RefusalKind.Aborted } r => throw Refuse(StatusCode.Aborted, r.Reason),
            StepOutcome.Refused r => throw Refuse(StatusCode.FailedPrecondition, r.Reason),
            _ => throw Refuse(StatusCode.Internal, $"range {step.RangeId}: unexpected step outcome {outcome}; report this as a bug"),
        };
    }

    private static RangeError EpochNotMatch(IReadOnlyList<RangeDescriptor> current)
    {
        var error = RangeReplica.EpochNotMatch(current[0]);
        for (var i = 1; i < current.Count; i++)
        {
            error.EpochNotMatch.Current.Add(current[i]);
        }

        return error;
    }

    private static RangeContext RequireRange(RangeContext? context) =>
        context is { RangeId: > 0 } c ? c : throw Refuse(StatusCode.InvalidArgument, "context.range_id is required: name the range and the epoch you saw");

    private static RpcException Refuse(StatusCode code, string detail) => new(new Status(code, detail));
}
