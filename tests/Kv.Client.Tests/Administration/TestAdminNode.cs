using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Kv.Proto.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kv.Client.Tests.Administration;

/// <summary>
/// A node serving kv.v1.Admin as a test scripts it: a real Grpc.AspNetCore server on 127.0.0.1
/// (free port, h2c) whose handlers are delegates, answering with the proto's semantics (placement
/// errors in the response's error field, NOT_LEADER with leader and members). A method with no
/// script answers UNIMPLEMENTED, as a node without the admin API does. Records every request.
/// </summary>
internal sealed class TestAdminNode : Admin.AdminBase, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Func<object, object>> _unary = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Method, object Request)> _received = new();
    private WebApplication _app = null!;

    public string Address { get; private set; } = string.Empty;

    /// <summary>Answers WatchOperation; null: UNIMPLEMENTED.</summary>
    public Func<WatchOperationRequest, IServerStreamWriter<WatchOperationResponse>, ServerCallContext, Task>? Watch { get; set; }

    public static async Task<TestAdminNode> StartAsync()
    {
        var node = new TestAdminNode();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(node);
        node._app = builder.Build();
        node._app.MapGrpcService<TestAdminNode>();
        await node._app.StartAsync();
        var bound = node._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        node.Address = $"127.0.0.1:{new Uri(bound).Port}";
        return node;
    }

    /// <summary>Scripts one unary method by its request type.</summary>
    public void On<TRequest, TResponse>(Func<TRequest, TResponse> answer)
        where TRequest : class
        where TResponse : class =>
        _unary[typeof(TRequest).Name] = r => answer((TRequest)r);

    public IReadOnlyList<T> Received<T>() => [.. _received.Where(r => r.Method == typeof(T).Name).Select(r => (T)r.Request)];

    public int ReceivedCount => _received.Count;

    /// <summary>NOT_LEADER naming leader (null: unknown) and members, as a follower answers.</summary>
    public static PlacementError NotLeader(TestAdminNode? leader, params TestAdminNode[] members)
    {
        var error = new PlacementError { Code = PlacementErrorCode.PlacementErrorNotLeader, Message = "not the placement leader" };
        if (leader is not null)
        {
            error.Leader = new PlacementMember { MemberId = 2, Address = leader.Address };
        }

        error.Members.Add(members.Select((m, i) => new PlacementMember { MemberId = (ulong)i + 1, Address = m.Address }));
        return error;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public override Task<PlanOperationResponse> PlanOperation(PlanOperationRequest request, ServerCallContext context) => Handle<PlanOperationRequest, PlanOperationResponse>(request);

    public override Task<SubmitOperationResponse> SubmitOperation(SubmitOperationRequest request, ServerCallContext context) => Handle<SubmitOperationRequest, SubmitOperationResponse>(request);

    public override Task<GetOperationResponse> GetOperation(GetOperationRequest request, ServerCallContext context) => Handle<GetOperationRequest, GetOperationResponse>(request);

    public override Task<ListOperationsResponse> ListOperations(ListOperationsRequest request, ServerCallContext context) => Handle<ListOperationsRequest, ListOperationsResponse>(request);

    public override Task<CancelOperationResponse> CancelOperation(CancelOperationRequest request, ServerCallContext context) => Handle<CancelOperationRequest, CancelOperationResponse>(request);

    public override Task<UndrainStoreResponse> UndrainStore(UndrainStoreRequest request, ServerCallContext context) => Handle<UndrainStoreRequest, UndrainStoreResponse>(request);

    public override Task<RemoveStoreResponse> RemoveStore(RemoveStoreRequest request, ServerCallContext context) => Handle<RemoveStoreRequest, RemoveStoreResponse>(request);

    public override Task<SetStoreMaintenanceResponse> SetStoreMaintenance(SetStoreMaintenanceRequest request, ServerCallContext context) => Handle<SetStoreMaintenanceRequest, SetStoreMaintenanceResponse>(request);

    public override Task<ListStoreStatusResponse> ListStoreStatus(ListStoreStatusRequest request, ServerCallContext context) => Handle<ListStoreStatusRequest, ListStoreStatusResponse>(request);

    public override Task<GetSchedulerStatusResponse> GetSchedulerStatus(GetSchedulerStatusRequest request, ServerCallContext context) => Handle<GetSchedulerStatusRequest, GetSchedulerStatusResponse>(request);

    public override Task<SetSchedulerPausedResponse> SetSchedulerPaused(SetSchedulerPausedRequest request, ServerCallContext context) => Handle<SetSchedulerPausedRequest, SetSchedulerPausedResponse>(request);

    public override Task<ListAuditResponse> ListAudit(ListAuditRequest request, ServerCallContext context) => Handle<ListAuditRequest, ListAuditResponse>(request);

    public override Task<GetClusterSettingsResponse> GetClusterSettings(GetClusterSettingsRequest request, ServerCallContext context) => Handle<GetClusterSettingsRequest, GetClusterSettingsResponse>(request);

    public override Task<UpdateClusterSettingsResponse> UpdateClusterSettings(UpdateClusterSettingsRequest request, ServerCallContext context) => Handle<UpdateClusterSettingsRequest, UpdateClusterSettingsResponse>(request);

    public override Task WatchOperation(WatchOperationRequest request, IServerStreamWriter<WatchOperationResponse> responseStream, ServerCallContext context)
    {
        _received.Enqueue((nameof(WatchOperationRequest), request));
        return Watch is { } watch ? watch(request, responseStream, context) : throw new RpcException(new Status(StatusCode.Unimplemented, "WatchOperation is not scripted"));
    }

    private Task<TResponse> Handle<TRequest, TResponse>(TRequest request)
        where TRequest : class
    {
        _received.Enqueue((typeof(TRequest).Name, request));
        if (!_unary.TryGetValue(typeof(TRequest).Name, out var answer))
        {
            throw new RpcException(new Status(StatusCode.Unimplemented, $"{typeof(TRequest).Name} is not scripted on this node"));
        }

        return Task.FromResult((TResponse)answer(request));
    }
}
