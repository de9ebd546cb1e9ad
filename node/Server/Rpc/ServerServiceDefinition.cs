using System.Collections.ObjectModel;
using Kv.Client.Rpc;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Server.Rpc;

/// <summary>The methods of one service bound to their handlers, ready to be served.</summary>
public sealed class ServerServiceDefinition
{
    private ServerServiceDefinition(IList<ServerMethodHandler> methods) => Methods = new ReadOnlyCollection<ServerMethodHandler>(methods);

    internal ReadOnlyCollection<ServerMethodHandler> Methods { get; }

    public static Builder CreateBuilder() => new();

    /// <summary>Collects method bindings; a method name may be bound once.</summary>
    public sealed class Builder
    {
        private readonly List<ServerMethodHandler> _methods = [];
        private readonly HashSet<string> _names = new(StringComparer.Ordinal);

        internal Builder()
        {
        }

        public Builder AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse> handler) =>
            Add(method, MethodType.Unary, handler);

        public Builder AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse> handler) =>
            Add(method, MethodType.ServerStreaming, handler);

        public Builder AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse> handler) =>
            Add(method, MethodType.ClientStreaming, handler);

        public Builder AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse> handler) =>
            Add(method, MethodType.DuplexStreaming, handler);

        public ServerServiceDefinition Build() => new(_methods.ToList());

        private Builder Add<TRequest, TResponse>(Method<TRequest, TResponse> method, MethodType handlerType, Delegate handler)
        {
            ArgumentNullException.ThrowIfNull(method);
            ArgumentNullException.ThrowIfNull(handler);
            if (method.Type != handlerType)
            {
                throw new ArgumentException($"method {method.FullName} is {method.Type} but the handler is {handlerType}", nameof(handler));
            }

            if (!_names.Add(method.FullName))
            {
                throw new ArgumentException($"method {method.FullName} is already bound", nameof(method));
            }

            _methods.Add(new ServerMethodHandler<TRequest, TResponse>(method, handler));
            return this;
        }
    }
}

/// <summary>A bound method, as the dispatcher sees it.</summary>
internal abstract class ServerMethodHandler
{
    public abstract IMethod Method { get; }

    public abstract Task HandleAsync(Microsoft.AspNetCore.Http.HttpContext http, RpcServerOptions options, ILogger logger);
}
