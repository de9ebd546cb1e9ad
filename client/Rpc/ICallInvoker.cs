namespace Kv.Client.Rpc;

/// <summary>
/// The seam between typed clients and a transport: everything above it (typed clients, the
/// route cache, the Txn and Admin APIs) speaks only this. <see cref="Http.RpcChannel"/> is
/// our implementation over SocketsHttpHandler; where Grpc.Net.Client can be restored, an
/// adapter over its CallInvoker is the one change needed.
/// </summary>
public interface ICallInvoker
{
    /// <summary>A unary call; fails with <see cref="RpcException"/> on any non-OK status.</summary>
    Task<TResponse> UnaryAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions options = default);

    /// <summary>Sends one request and returns the stream of responses.</summary>
    AsyncServerStreamingCall<TResponse> ServerStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions options = default);

    /// <summary>Opens a stream of requests answered by one response.</summary>
    AsyncClientStreamingCall<TRequest, TResponse> ClientStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options = default);

    /// <summary>Opens independent request and response streams.</summary>
    AsyncDuplexStreamingCall<TRequest, TResponse> DuplexStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options = default);
}
