using Kv.Client.Contracts;
using Kv.Client.Rpc;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Transport;
using Kv.Node.Server.Hosting;
using Kv.Node.Server.Rpc;
using Kv.Proto.V1;

namespace Kv.Node.Server.Services;

/// <summary>
/// <c>kv.v1.Admin</c> on this store's range replicas (proto/kv/v1/admin.proto). Like raw KV,
/// routing problems are typed RangeErrors and requests that can never succeed are refused with a
/// status saying why; a refusal changes nothing.
/// </summary>
/// Each RPC's handler lives in its own file (AdminService.*.cs); this one binds them.
internal sealed partial class AdminService(Store store, Func<ulong, RangeReplica?> replicaOf, IStoreResolver stores, PlacementCaller placement, TimeSpan transferTimeout)
{
    public ServerServiceDefinition BindService() => ServerServiceDefinition.CreateBuilder()
        .AddMethod(AdminContract.TransferLeader, TransferLeaderAsync)
        .AddMethod(AdminContract.SplitRange, SplitRangeAsync)
        .AddMethod(AdminContract.AddReplica, AddReplicaAsync)
        .AddMethod(AdminContract.RemoveReplica, RemoveReplicaAsync)
        .AddMethod(AdminContract.MoveReplica, MoveReplicaAsync)
        .Build();

    private async Task<TransferLeaderResponse> TransferLeaderAsync(TransferLeaderRequest request, ServerCallContext context)
    {
        var ctx = request.Context is { RangeId: > 0 } c ? c : throw Refuse(StatusCode.InvalidArgument, "context.range_id is required: name the range and the epoch you saw");
        if (replicaOf(ctx.RangeId) is not { } replica)
        {
            return new TransferLeaderResponse { Error = RangeErrors.RangeNotFound(store.StoreId, ctx.RangeId) };
        }

        var d = replica.Descriptor;
        var target = d.Replicas.FirstOrDefault(r => r.StoreId == request.ToStoreId)
            ?? throw Refuse(StatusCode.InvalidArgument,
                $"range {d.RangeId} has no replica on store {request.ToStoreId}; its replicas are on stores {string.Join(", ", d.Replicas.Select(r => r.StoreId))}");
        if (target.Role != ReplicaRole.Voter)
        {
            throw Refuse(StatusCode.FailedPrecondition, $"range {d.RangeId}'s replica on store {request.ToStoreId} is a learner and cannot lead; promote it first");
        }

        try
        {
            var refusal = await store.TransferLeaderAsync(ctx.RangeId, target.ReplicaId,
                g => RangeBounds.SameEpoch(ctx.Epoch, ((RangeReplica)g.Machine).Descriptor.Epoch) ? null : RangeReplica.EpochNotMatch(((RangeReplica)g.Machine).Descriptor))
                .WaitAsync(context.CancellationToken).ConfigureAwait(false);
            if (refusal is RangeError error)
            {
                return new TransferLeaderResponse { Error = error };
            }
        }
        catch (GroupNotLeaderException e)
        {
            return new TransferLeaderResponse { Error = RangeErrors.NotLeader(store.StoreId, replicaOf, stores, ctx.RangeId, e.LeaderMemberId) };
        }
        catch (GroupNotFoundException)
        {
            return new TransferLeaderResponse { Error = RangeErrors.RangeNotFound(store.StoreId, ctx.RangeId) };
        }

        // Wait for the outcome: the target campaigns at once (TimeoutNow) and wins unless it is far
        // behind or cut off, in which case the leader gives the transfer up after an election timeout.
        var deadline = DateTime.UtcNow + transferTimeout;
        while (true)
        {
            var status = (await store.StatusAsync().WaitAsync(context.CancellationToken).ConfigureAwait(false)).FirstOrDefault(s => s.GroupId == ctx.RangeId);
            if (status.Lead == target.ReplicaId)
            {
                return new TransferLeaderResponse { Leader = target };
            }

            if (DateTime.UtcNow > deadline)
            {
                return new TransferLeaderResponse
                {
                    Error = new RangeError
                    {
                        Message = $"range {ctx.RangeId}: store {request.ToStoreId} did not take over leadership within {transferTimeout.TotalSeconds:0.#} s (it may be behind or unreachable); read the range to see who leads, and retry",
                        RangeUnavailable = new RangeUnavailable { RangeId = ctx.RangeId },
                    },
                };
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), context.CancellationToken).ConfigureAwait(false);
        }
    }

    private static RpcException Refuse(StatusCode code, string detail) => new(new Status(code, detail));
}
