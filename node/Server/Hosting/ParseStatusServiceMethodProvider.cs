using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;

namespace Kv.Node.Server.Hosting;

/// <summary>
/// Binds every service of a <see cref="GrpcServer"/> in place of Grpc.AspNetCore's own provider,
/// the same way (the static BindService that <see cref="BindServiceMethodAttribute"/> names; each
/// rpc runs the service's override of the base class's virtual method; the same endpoint
/// metadata), with one difference: each method's request marshaller refuses bytes that are not a
/// valid message with INTERNAL, as gRPC's own servers (C-core, grpc-java) and ours before did.
/// Grpc.AspNetCore deserializes in its call handler and would report the parser's exception as a
/// handler's, UNKNOWN. The marshaller is the only place that sees the parse of every request,
/// unary and streaming alike: for a unary call the request is parsed before any interceptor runs.
/// </summary>
internal sealed class ParseStatusServiceMethodProvider<TService> : IServiceMethodProvider<TService>
    where TService : class
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        // No attribute: not a gRPC service class; like Grpc.AspNetCore, bind nothing.
        if (typeof(TService).GetCustomAttribute<BindServiceMethodAttribute>(inherit: true) is not { } bind)
        {
            return;
        }

        var bindService = bind.BindType
            .GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Single(m => m.Name == bind.BindMethodName && m.GetParameters() is [{ ParameterType: var binder }, _] && binder == typeof(ServiceBinderBase));
        // The implementation is null: the binder makes each handler from the method's name, so
        // that Grpc.AspNetCore can run it on the instance it resolves for each call.
        bindService.Invoke(null, [new Binder(context, bindService.GetParameters()[1].ParameterType), null]);
    }

    /// <summary>The request marshaller of <paramref name="method"/> with parse failures mapped to INTERNAL.</summary>
    internal static Method<TRequest, TResponse> RefusingUnparsable<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class
    {
        var parse = method.RequestMarshaller.ContextualDeserializer;
        var refusal = $"the request is not a valid {MessageName(typeof(TRequest))}";
        var marshaller = Marshallers.Create(method.RequestMarshaller.ContextualSerializer, request =>
        {
            // A try block costs nothing until it throws: the call goes straight to the parser.
            try
            {
                return parse(request);
            }
            catch (InvalidProtocolBufferException e)
            {
                // The parser's words name what is wrong with the bytes, never anything of the server.
                throw new RpcException(new Status(StatusCode.Internal, $"{refusal} (failed to deserialize: {e.Message})"));
            }
        });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, marshaller, method.ResponseMarshaller);
    }

    /// <summary>The protobuf name (kv.v1.EchoRequest) a client knows the message by, else the CLR name.</summary>
    private static string MessageName(Type message) =>
        message.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) is MessageDescriptor descriptor
            ? descriptor.FullName
            : message.Name;

    private sealed class Binder(ServiceMethodProviderContext<TService> context, Type serviceBase) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Handler<UnaryServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(TRequest), typeof(ServerCallContext));
            context.AddUnaryMethod(RefusingUnparsable(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Handler<ClientStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(ServerCallContext));
            context.AddClientStreamingMethod(RefusingUnparsable(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Handler<ServerStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(TRequest), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext));
            context.AddServerStreamingMethod(RefusingUnparsable(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Handler<DuplexStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext));
            context.AddDuplexStreamingMethod(RefusingUnparsable(method), metadata, invoker);
        }

        private (TDelegate Invoker, List<object> Metadata) Handler<TDelegate>(string name, params Type[] parameters)
            where TDelegate : Delegate
        {
            var declared = serviceBase.GetMethod(name, BindingFlags.Public | BindingFlags.Instance, parameters)
                ?? throw new InvalidOperationException($"{serviceBase} declares no method for the rpc {name}");
            // An open delegate over a virtual method dispatches on the instance it is given: each
            // call runs TService's override, as a call through the base class would.
            var invoker = (TDelegate)Delegate.CreateDelegate(typeof(TDelegate), declared);

            // As Grpc.AspNetCore: the class's attributes, then the override's (higher priority),
            // so that authorization or CORS attributes keep working; and POST only, with CORS preflight.
            var metadata = new List<object>(typeof(TService).GetCustomAttributes(inherit: true));
            if (typeof(TService).GetMethod(name, BindingFlags.Public | BindingFlags.Instance, parameters) is { } overriding
                && overriding.GetBaseDefinition() == declared.GetBaseDefinition())
            {
                metadata.AddRange(overriding.GetCustomAttributes(inherit: true));
            }

            metadata.Add(new HttpMethodMetadata(["POST"], acceptCorsPreflight: true));
            return (invoker, metadata);
        }
    }
}
