using Grpc.Core;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Changes;
using Kv.Node.Ranges.Transport;
using Kv.Proto.V1;

namespace Kv.Node.Server.Services;

/// <summary>
/// <c>kv.v1.RangeAdmin</c> (proto/kv/v1/range_admin.proto): decodes a plan step, has the
/// replica-change engine execute it, encodes the typed outcome. No workflow lives here.
/// </summary>
internal sealed class RangeAdminService(ReplicaChangeEngine engine, Func<ulong, RangeReplica?> replicaOf, IStoreResolver stores) : RangeAdmin.RangeAdminBase
{
    /// <summary>The wait when the request names none.</summary>
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(5);

    /// <summary>The longest wait a request may ask for.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(10);

    public override async Task<ExecuteStepResponse> ExecuteStep(ExecuteStepRequest request, ServerCallContext context)
    {
        if (request.Step is not { } step)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "step is required: send the plan step to execute"));
        }

        var wait = request.WaitMs == 0 ? DefaultWait : TimeSpan.FromMilliseconds(Math.Min(request.WaitMs, MaxWait.TotalMilliseconds));
        var outcome = request.Abort
            ? await engine.AbortAsync(step, wait, context.CancellationToken).ConfigureAwait(false)
            : await engine.ExecuteAsync(step, wait, context.CancellationToken).ConfigureAwait(false);
        return Encode(outcome, replicaOf(step.RangeId)?.Descriptor, stores);
    }

    /// <summary>The wire form of an outcome.</summary>
    public static ExecuteStepResponse Encode(StepOutcome outcome, RangeDescriptor? current, IStoreResolver stores)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        ArgumentNullException.ThrowIfNull(stores);
        var response = new ExecuteStepResponse { Range = current };
        switch (outcome)
        {
            case StepOutcome.Done done:
                response.Done = new StepDone { Right = done.Right };
                response.Range = done.Range;
                response.Message = $"range {done.Range.RangeId}: step done; now at epoch (version {done.Range.Epoch?.Version}, conf_ver {done.Range.Epoch?.ConfVer})";
                break;
            case StepOutcome.NotLeader notLeader:
                response.NotLeader = new StepNotLeader { Leader = notLeader.Leader, LeaderAddress = notLeader.Leader is { } l ? stores.AddressOf(l.StoreId) ?? "" : "" };
                response.Message = notLeader.Leader is { } leader
                    ? $"this store does not lead range {notLeader.RangeId}; its leader is replica {leader.ReplicaId} on store {leader.StoreId}: execute the step there"
                    : $"this store does not lead range {notLeader.RangeId} and knows no leader yet (election in progress?); retry after a short backoff";
                break;
            case StepOutcome.EpochChanged changed:
                response.EpochChanged = new StepEpochChanged { Current = { changed.Current } };
                response.Message = $"range {changed.Current[0].RangeId} is at epoch (version {changed.Current[0].Epoch?.Version}, conf_ver {changed.Current[0].Epoch?.ConfVer}), " +
                    "not the one the plan saw nor further along this step; nothing was changed: recompute the plan";
                break;
            case StepOutcome.Refused refused:
                response.Refused = new StepRefused
                {
                    Kind = refused.Kind switch
                    {
                        RefusalKind.BadStep => StepRefusalKind.BadStep,
                        RefusalKind.Precondition => StepRefusalKind.Precondition,
                        _ => StepRefusalKind.Aborted,
                    },
                };
                response.Message = refused.Reason;
                break;
            case StepOutcome.Transient transient:
                response.Transient = new StepTransient
                {
                    Kind = transient.Kind switch
                    {
                        TransientKind.CatchingUp => StepTransientKind.CatchingUp,
                        TransientKind.MidChange => StepTransientKind.MidChange,
                        _ => StepTransientKind.Unavailable,
                    },
                    ReplicaId = transient.Progress?.ReplicaId ?? 0,
                    StoreId = transient.Progress?.StoreId ?? 0,
                    MatchIndex = transient.Progress?.Match ?? 0,
                    LastIndex = transient.Progress?.LastIndex ?? 0,
                };
                response.Message = transient.Reason;
                break;
            case StepOutcome.RangeNotFound notFound:
                response.RangeNotFound = new StepRangeNotFound { RangeId = notFound.RangeId };
                response.Message = $"this store has no replica of range {notFound.RangeId}; ask placement where it is";
                break;
        }

        return response;
    }
}
