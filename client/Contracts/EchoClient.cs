using Kv.Client.Rpc;
using Kv.Proto.V1;

namespace Kv.Client.Contracts;

/// <summary>Typed client of <c>kv.v1.Echo</c> over any <see cref="ICallInvoker"/>.</summary>
public sealed class EchoClient(ICallInvoker invoker)
{
    public Task<EchoResponse> UnaryAsync(EchoRequest request, CallOptions options = default) =>
        invoker.UnaryAsync(EchoContract.Unary, request, options);

    public AsyncServerStreamingCall<EchoResponse> ServerStream(EchoRequest request, CallOptions options = default) =>
        invoker.ServerStreaming(EchoContract.ServerStream, request, options);

    public AsyncClientStreamingCall<EchoRequest, EchoResponse> ClientStream(CallOptions options = default) =>
        invoker.ClientStreaming(EchoContract.ClientStream, options);

    public AsyncDuplexStreamingCall<EchoRequest, EchoResponse> Bidi(CallOptions options = default) =>
        invoker.DuplexStreaming(EchoContract.Bidi, options);
}
