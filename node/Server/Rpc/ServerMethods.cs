using Kv.Client.Rpc;

namespace Kv.Node.Server.Rpc;

// Handler shapes for the four kinds of method, as in Grpc.Core. A handler ends its call with a
// non-OK status by throwing RpcException; any other exception ends it with INTERNAL and is
// logged, never sent. Handlers must observe context.CancellationToken: it fires when the client
// cancels, the deadline passes or the connection drops.

public delegate Task<TResponse> UnaryServerMethod<TRequest, TResponse>(TRequest request, ServerCallContext context);

public delegate Task ServerStreamingServerMethod<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context);

public delegate Task<TResponse> ClientStreamingServerMethod<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context);

public delegate Task DuplexStreamingServerMethod<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context);
