using System.Collections.Concurrent;
using Kv.Client.Contracts;
using Kv.Client.Rpc;
using Kv.Node.Server.Rpc;

namespace Kv.Node.Tests.ClientReactions;

/// <summary>
/// A scripted cluster node for the client's error-reaction tests: a real RpcServer on 127.0.0.1
/// (free port) serving <c>kv.v1.Placement</c>, <c>kv.v1.RawKv</c> and <c>kv.v1.TxnKv</c>, whose handlers are test
/// delegates. It scripts the wire responses the real services send, with the same proto types
/// and semantics (placement's header.error NOT_LEADER with leader and members, the RangeError
/// details with their hints, gRPC statuses such as INVALID_ARGUMENT), so the client under test
/// cannot tell it from a node. It records every request it receives. A method with no script
/// answers UNIMPLEMENTED.
/// </summary>
public sealed class ScriptedNode : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Func<object, ServerCallContext, Task<object>>> _handlers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Method, object Request)> _received = new();
    private RpcServer _server = null!;

    private ScriptedNode()
    {
    }

    /// <summary>host:port, as clients and peers name nodes.</summary>
    public string Address => $"127.0.0.1:{_server.Port}";

    public static async Task<ScriptedNode> StartAsync()
    {
        var node = new ScriptedNode();
        var builder = ServerServiceDefinition.CreateBuilder();
        node.Bind(builder, PlacementContract.Bootstrap);
        node.Bind(builder, PlacementContract.GetClusterInfo);
        node.Bind(builder, PlacementContract.ListStores);
        node.Bind(builder, PlacementContract.GetRange);
        node.Bind(builder, PlacementContract.GetRangeById);
        node.Bind(builder, PlacementContract.ScanRanges);
        node.Bind(builder, PlacementContract.GetTimestamp);
        node.Bind(builder, RawKvContract.Get);
        node.Bind(builder, RawKvContract.Put);
        node.Bind(builder, RawKvContract.Delete);
        node.Bind(builder, RawKvContract.Scan);
        node.Bind(builder, TxnKvContract.Get);
        node.Bind(builder, TxnKvContract.Scan);
        node.Bind(builder, TxnKvContract.Prewrite);
        node.Bind(builder, TxnKvContract.Commit);
        node.Bind(builder, TxnKvContract.Rollback);
        node.Bind(builder, TxnKvContract.CheckTxnStatus);
        node.Bind(builder, TxnKvContract.ResolveLock);
        node.Bind(builder, TxnKvContract.TxnHeartBeat);
        node.Bind(builder, TxnKvContract.ScanLock);
        node.Bind(builder, AdminContract.TransferLeader);
        node.Bind(builder, AdminContract.SplitRange);
        node.Bind(builder, AdminContract.AddReplica);
        node.Bind(builder, AdminContract.RemoveReplica);
        node.Bind(builder, AdminContract.MoveReplica);
        node._server = await RpcServer.StartAsync(new RpcServerOptions(), [builder.Build()]);
        return node;
    }

    /// <summary>Scripts a method's answer.</summary>
    public void On<TRequest, TResponse>(Method<TRequest, TResponse> method, Func<TRequest, TResponse> answer)
        where TRequest : class
        where TResponse : class =>
        _handlers[method.FullName] = (request, _) => Task.FromResult<object>(answer((TRequest)request));

    /// <summary>Scripts a method's answer that waits (or observes the call's cancellation).</summary>
    public void OnAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, Func<TRequest, ServerCallContext, Task<TResponse>> answer)
        where TRequest : class
        where TResponse : class =>
        _handlers[method.FullName] = async (request, context) => await answer((TRequest)request, context);

    /// <summary>The requests of one method received so far, in order.</summary>
    public IReadOnlyList<TRequest> Received<TRequest, TResponse>(Method<TRequest, TResponse> method) =>
        _received.Where(r => r.Method == method.FullName).Select(r => (TRequest)r.Request).ToList();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private void Bind<TRequest, TResponse>(ServerServiceDefinition.Builder builder, Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class =>
        builder.AddMethod(method, (UnaryServerMethod<TRequest, TResponse>)(async (request, context) =>
        {
            _received.Enqueue((method.FullName, request));
            if (!_handlers.TryGetValue(method.FullName, out var handler))
            {
                throw new RpcException(new Status(StatusCode.Unimplemented, $"{method.FullName} is not scripted on this node"));
            }

            return (TResponse)await handler(request, context);
        }));
}
