using Grpc.Core;
using Kv.Node.Placement;
using Kv.Node.Placement.Gc;
using Kv.Node.Placement.Operations;
using Kv.Proto.V1;

namespace Kv.Node.Server.Services;

/// <summary>What the Admin service calls: the operations front, the GC front, and the group (for NOT_LEADER hints).</summary>
internal sealed record AdminOperationsContext(OperationsFront Front, IPlacementGroup Group, TimeSpan RequestTimeout)
{
    /// <summary>The GC safe point and service safe points.</summary>
    public required GcFront Gc { get; init; }
}

/// <summary>
/// <c>kv.v1.Admin</c> (proto/kv/v1/admin.proto): operations (plan, submit, get, list, watch,
/// cancel), store administration, the scheduler, the audit log and cluster settings. It holds no
/// workflow: each handler decodes, calls one method of <see cref="OperationsFront"/>
/// (node/Placement/Operations), and encodes. Range changes are operations; placement's executor
/// drives their steps on range leaders through <c>kv.v1.RangeAdmin.ExecuteStep</c>
/// (RangeAdminService). Only the placement leader answers; any other node replies NOT_LEADER naming
/// the leader and every member. A request that does not finish within the request timeout gets
/// UNAVAILABLE (a change's outcome is then unknown: Get the operation to see).
/// </summary>
internal sealed class AdminService(AdminOperationsContext operations) : Admin.AdminBase
{
    private OperationsFront Front => operations.Front;

    public override Task<PlanOperationResponse> PlanOperation(PlanOperationRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (plan, error) = await Front.PlanAsync(request.Spec, request.Reason, ct).ConfigureAwait(false);
            return new PlanOperationResponse { Plan = plan, Error = error };
        }, e => new PlanOperationResponse { Error = e });

    public override Task<SubmitOperationResponse> SubmitOperation(SubmitOperationRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (operation, created, error) = await Front.SubmitAsync(request.Id, request.Spec, request.RequestedBy, request.Reason, ct).ConfigureAwait(false);
            return new SubmitOperationResponse { Operation = operation, Created = created, Error = error };
        }, e => new SubmitOperationResponse { Error = e });

    public override Task<GetOperationResponse> GetOperation(GetOperationRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (operation, error) = await Front.GetAsync(request.Id, ct).ConfigureAwait(false);
            return new GetOperationResponse { Operation = operation, Error = error };
        }, e => new GetOperationResponse { Error = e });

    public override Task<ListOperationsResponse> ListOperations(ListOperationsRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (list, error) = await Front.ListAsync(request.States, request.Limit, request.SinceMs, ct).ConfigureAwait(false);
            var response = new ListOperationsResponse { Error = error };
            response.Operations.AddRange(list);
            return response;
        }, e => new ListOperationsResponse { Error = e });

    public override async Task WatchOperation(WatchOperationRequest request, IServerStreamWriter<WatchOperationResponse> responseStream, ServerCallContext context)
    {
        var first = await RunAsync(context, async ct => new WatchOperationResponse { Error = await Front.CheckExistsAsync(request.Id, ct).ConfigureAwait(false) },
            e => new WatchOperationResponse { Error = e }).ConfigureAwait(false);
        if (first.Error is not null)
        {
            await responseStream.WriteAsync(first).ConfigureAwait(false);
            return;
        }

        try
        {
            await foreach (var record in Front.WatchAsync(request.Id, context.CancellationToken).ConfigureAwait(false))
            {
                await responseStream.WriteAsync(new WatchOperationResponse { Operation = record }).ConfigureAwait(false);
            }
        }
        catch (PlacementNotLeaderException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "this node stopped leading placement while the watch ran: watch again (the new leader answers)"));
        }
    }

    public override Task<CancelOperationResponse> CancelOperation(CancelOperationRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (operation, error) = await Front.CancelAsync(request.Id, request.Who, request.Reason, ct).ConfigureAwait(false);
            return new CancelOperationResponse { Operation = operation, Error = error };
        }, e => new CancelOperationResponse { Error = e });

    public override Task<UndrainStoreResponse> UndrainStore(UndrainStoreRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (store, error) = await Front.UndrainAsync(request.StoreId, request.Who, request.Reason, ct).ConfigureAwait(false);
            return new UndrainStoreResponse { Store = store, Error = error };
        }, e => new UndrainStoreResponse { Error = e });

    public override Task<RemoveStoreResponse> RemoveStore(RemoveStoreRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (store, error) = await Front.RemoveStoreAsync(request.StoreId, request.Who, request.Reason, ct).ConfigureAwait(false);
            return new RemoveStoreResponse { Store = store, Error = error };
        }, e => new RemoveStoreResponse { Error = e });

    public override Task<SetStoreMaintenanceResponse> SetStoreMaintenance(SetStoreMaintenanceRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (store, error) = await Front.SetMaintenanceAsync(request.StoreId, request.DurationMs, request.Who, request.Reason, ct).ConfigureAwait(false);
            return new SetStoreMaintenanceResponse { Store = store, Error = error };
        }, e => new SetStoreMaintenanceResponse { Error = e });

    public override Task<ListStoreStatusResponse> ListStoreStatus(ListStoreStatusRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (stores, error) = await Front.ListStoreStatusAsync(ct).ConfigureAwait(false);
            var response = new ListStoreStatusResponse { Error = error };
            response.Stores.AddRange(stores);
            return response;
        }, e => new ListStoreStatusResponse { Error = e });

    public override Task<GetSchedulerStatusResponse> GetSchedulerStatus(GetSchedulerStatusRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (status, error) = await Front.SchedulerStatusAsync(ct).ConfigureAwait(false);
            return status ?? new GetSchedulerStatusResponse { Error = error };
        }, e => new GetSchedulerStatusResponse { Error = e });

    public override Task<SetSchedulerPausedResponse> SetSchedulerPaused(SetSchedulerPausedRequest request, ServerCallContext context) =>
        RunAsync(context, async ct => new SetSchedulerPausedResponse { Error = await Front.SetSchedulerPausedAsync(request.Paused, request.Who, request.Reason, ct).ConfigureAwait(false) },
            e => new SetSchedulerPausedResponse { Error = e });

    public override Task<ListAuditResponse> ListAudit(ListAuditRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (entries, error) = await Front.ListAuditAsync(request.SinceMs, request.Limit, request.OperationId, ct).ConfigureAwait(false);
            var response = new ListAuditResponse { Error = error };
            response.Entries.AddRange(entries);
            return response;
        }, e => new ListAuditResponse { Error = e });

    public override Task<GetClusterSettingsResponse> GetClusterSettings(GetClusterSettingsRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (settings, error) = await Front.GetSettingsAsync(ct).ConfigureAwait(false);
            return new GetClusterSettingsResponse { Settings = settings, Error = error };
        }, e => new GetClusterSettingsResponse { Error = e });

    public override Task<UpdateClusterSettingsResponse> UpdateClusterSettings(UpdateClusterSettingsRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (settings, error) = await Front.UpdateSettingsAsync(request.HasReplicationFactor ? request.ReplicationFactor : null, request.Who, request.Reason, ct).ConfigureAwait(false);
            return new UpdateClusterSettingsResponse { Settings = settings, Error = error };
        }, e => new UpdateClusterSettingsResponse { Error = e });

    // ---- GC: each handler calls one method of GcFront (node/Placement/Gc) ----

    public override Task<GetGcStatusResponse> GetGcStatus(GetGcStatusRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (status, error) = await operations.Gc.StatusAsync(ct).ConfigureAwait(false);
            return new GetGcStatusResponse { Status = status, Error = error };
        }, e => new GetGcStatusResponse { Error = e });

    public override Task<SetGcSafePointResponse> SetGcSafePoint(SetGcSafePointRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (status, error) = await operations.Gc.SetSafePointAsync(request.SafePoint, request.Who, request.Reason, ct).ConfigureAwait(false);
            return new SetGcSafePointResponse { Status = status, Error = error };
        }, e => new SetGcSafePointResponse { Error = e });

    public override Task<SetServiceSafePointResponse> SetServiceSafePoint(SetServiceSafePointRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (service, error) = await operations.Gc.SetServiceAsync(request.Name, request.Ts, request.TtlMs, request.Who, ct).ConfigureAwait(false);
            return new SetServiceSafePointResponse { ServiceSafePoint = service, Error = error };
        }, e => new SetServiceSafePointResponse { Error = e });

    public override Task<RemoveServiceSafePointResponse> RemoveServiceSafePoint(RemoveServiceSafePointRequest request, ServerCallContext context) =>
        RunAsync(context, async ct => new RemoveServiceSafePointResponse
        {
            Error = await operations.Gc.RemoveServiceAsync(request.Name, request.Who, request.Force, request.Reason, ct).ConfigureAwait(false),
        }, e => new RemoveServiceSafePointResponse { Error = e });

    public override Task<ExplainGcSafePointResponse> ExplainGcSafePoint(ExplainGcSafePointRequest request, ServerCallContext context) =>
        RunAsync(context, async ct =>
        {
            var (explanation, error) = await operations.Gc.ExplainAsync(ct).ConfigureAwait(false);
            return explanation ?? new ExplainGcSafePointResponse { Error = error };
        }, e => new ExplainGcSafePointResponse { Error = e });

    /// <summary>Runs <paramref name="body"/> under the request timeout; NOT_LEADER and timeouts become the response's PlacementError.</summary>
    private async Task<T> RunAsync<T>(ServerCallContext context, Func<CancellationToken, Task<T>> body, Func<PlacementError, T> failed)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        timeout.CancelAfter(operations.RequestTimeout);
        try
        {
            return await body(timeout.Token).ConfigureAwait(false);
        }
        catch (PlacementNotLeaderException ex)
        {
            return failed(NotLeaderError(ex.LeaderId != 0 ? ex.LeaderId : operations.Group.LeaderId));
        }
        catch (OperationCanceledException) when (!context.CancellationToken.IsCancellationRequested)
        {
            return failed(new PlacementError
            {
                Code = PlacementErrorCode.PlacementErrorUnavailable,
                Message = $"the placement group did not answer within {operations.RequestTimeout.TotalSeconds:0.###} s (no quorum, or the leader is catching up); " +
                    "retry after backoff (a change may or may not have been made: get the operation to see)",
            });
        }
    }

    /// <summary>NOT_LEADER with the leader (when known) and every member, as the Placement service answers it.</summary>
    private PlacementError NotLeaderError(ulong leaderId)
    {
        var group = operations.Group;
        var leader = group.Members.FirstOrDefault(m => m.MemberId == leaderId && leaderId != 0)?.Clone() ?? new PlacementMember { MemberId = leaderId };
        string message = !group.IsMember
            ? "this node is not a placement member; ask one of the members"
            : leader.MemberId == 0
                ? "this node is not the placement leader and no leader is known (an election may be running); retry the members after backoff"
                : $"this node is not the placement leader; member {leader.MemberId} at {leader.Address} is";
        var error = new PlacementError { Code = PlacementErrorCode.PlacementErrorNotLeader, Message = message, Leader = leader };
        error.Members.AddRange(group.Members.Select(m => m.Clone()));
        return error;
    }
}
