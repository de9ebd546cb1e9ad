using System.Collections.Concurrent;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Kv.Node.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Kv.Node.Tests.ClientReactions;

/// <summary>
/// A scripted cluster node for the client's error-reaction tests: a real Grpc.AspNetCore server
/// on 127.0.0.1 (free port) serving <c>kv.v1.Placement</c>, <c>kv.v1.RawKv</c>, <c>kv.v1.TxnKv</c>
/// and <c>kv.v1.Admin</c>, whose handlers are test delegates. It scripts the wire responses the
/// real services send, with the same proto types and semantics (placement's header.error
/// NOT_LEADER with leader and members, the RangeError details with their hints, gRPC statuses
/// such as INVALID_ARGUMENT), so the client under test cannot tell it from a node. It records
/// every request it receives. A method with no script answers UNIMPLEMENTED.
/// </summary>
public sealed class ScriptedNode : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Func<object, ServerCallContext, Task<object>>> _handlers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Func<object, object, ServerCallContext, Task>> _streams = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Method, object Request)> _received = new();
    private GrpcServer _server = null!;

    private ScriptedNode()
    {
    }

    /// <summary>host:port, as clients and peers name nodes.</summary>
    public string Address => $"127.0.0.1:{_server.Port}";

    public static async Task<ScriptedNode> StartAsync()
    {
        var node = new ScriptedNode();
        node._server = await GrpcServer.StartAsync(
            new GrpcServerOptions(),
            services =>
            {
                services.AddSingleton(node);
                // Grpc.AspNetCore's extension point for methods that are not a generated base
                // class's: every method of the four services, bound to the script.
                services.AddSingleton<IServiceMethodProvider<ScriptedNode>>(new ScriptedMethods());
            },
            endpoints => endpoints.MapGrpcService<ScriptedNode>());
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

    /// <summary>Scripts a server-streaming method: the script writes the responses, then returns (or throws an RpcException).</summary>
    public void OnStream<TRequest, TResponse>(Method<TRequest, TResponse> method, Func<TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task> answer)
        where TRequest : class
        where TResponse : class =>
        _streams[method.FullName] = (request, stream, context) => answer((TRequest)request, (IServerStreamWriter<TResponse>)stream, context);

    /// <summary>The requests of one method received so far, in order.</summary>
    public IReadOnlyList<TRequest> Received<TRequest, TResponse>(Method<TRequest, TResponse> method) =>
        _received.Where(r => r.Method == method.FullName).Select(r => (TRequest)r.Request).ToList();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private async Task<TResponse> HandleAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, ServerCallContext context)
        where TRequest : class
        where TResponse : class
    {
        _received.Enqueue((method.FullName, request));
        if (!_handlers.TryGetValue(method.FullName, out var handler))
        {
            throw new RpcException(new Status(StatusCode.Unimplemented, $"{method.FullName} is not scripted on this node"));
        }

        return (TResponse)await handler(request, context);
    }

    private Task HandleStreamAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, IServerStreamWriter<TResponse> stream, ServerCallContext context)
        where TRequest : class
        where TResponse : class
    {
        _received.Enqueue((method.FullName, request));
        if (!_streams.TryGetValue(method.FullName, out var handler))
        {
            throw new RpcException(new Status(StatusCode.Unimplemented, $"{method.FullName} is not scripted on this node"));
        }

        return handler(request, stream, context);
    }

    /// <summary>Adds every method <see cref="WireMethods"/> knows, each answered by <see cref="HandleAsync"/>.</summary>
    private sealed class ScriptedMethods : IServiceMethodProvider<ScriptedNode>
    {
        public void OnServiceMethodDiscovery(ServiceMethodProviderContext<ScriptedNode> context)
        {
            var binder = new Binder(context);
            Kv.Proto.V1.RawKv.BindService(binder, null);
            Kv.Proto.V1.TxnKv.BindService(binder, null);
            Kv.Proto.V1.Admin.BindService(binder, null);
            Kv.Proto.V1.Placement.BindService(binder, null);
        }

        // The generated BindService hands each method over with its types; the handler it passes
        // (null here) is replaced by the script.
        private sealed class Binder(ServiceMethodProviderContext<ScriptedNode> context) : ServiceBinderBase
        {
            public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
                context.AddUnaryMethod(method, [], (node, request, call) => node.HandleAsync(method, request, call));

            // Server streams (Admin.WatchOperation): the script writes the responses.
            public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
                context.AddServerStreamingMethod(method, [], (node, request, stream, call) => node.HandleStreamAsync(method, request, stream, call));
        }
    }
}
