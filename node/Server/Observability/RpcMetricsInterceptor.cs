using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Kv.Node.Server.Observability;

/// <summary>
/// Counts and times every RPC the node serves, by method and status code (<see cref="RpcMetrics"/>),
/// for the four call shapes. Register it with Grpc.AspNetCore as a singleton, so no instance is
/// made per call:
/// <code>
///   builder.Services.AddSingleton(nodeMetrics.Rpc);
///   builder.Services.AddSingleton&lt;RpcMetricsInterceptor&gt;();
///   builder.Services.AddGrpc(o => o.Interceptors.Add&lt;RpcMetricsInterceptor&gt;());
/// </code>
/// The status of a call that returns is the context's (OK unless the handler set another); of a
/// call that throws, what Grpc.AspNetCore sends for the exception (<see cref="RpcMetrics.StatusOf"/>).
/// Exceptions pass through unchanged.
/// </summary>
public sealed class RpcMetricsInterceptor(RpcMetrics metrics) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var series = metrics.For(context.Method, RpcMetrics.CallType.Unary);
        var started = series.Start();
        try
        {
            var response = await continuation(request, context).ConfigureAwait(false);
            series.Handled(context.Status.StatusCode, started);
            return response;
        }
        catch (Exception e)
        {
            series.Handled(RpcMetrics.StatusOf(e, context), started);
            throw;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var series = metrics.For(context.Method, RpcMetrics.CallType.ClientStreaming);
        var started = series.Start();
        try
        {
            var response = await continuation(requestStream, context).ConfigureAwait(false);
            series.Handled(context.Status.StatusCode, started);
            return response;
        }
        catch (Exception e)
        {
            series.Handled(RpcMetrics.StatusOf(e, context), started);
            throw;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var series = metrics.For(context.Method, RpcMetrics.CallType.ServerStreaming);
        var started = series.Start();
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
            series.Handled(context.Status.StatusCode, started);
        }
        catch (Exception e)
        {
            series.Handled(RpcMetrics.StatusOf(e, context), started);
            throw;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var series = metrics.For(context.Method, RpcMetrics.CallType.DuplexStreaming);
        var started = series.Start();
        try
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
            series.Handled(context.Status.StatusCode, started);
        }
        catch (Exception e)
        {
            series.Handled(RpcMetrics.StatusOf(e, context), started);
            throw;
        }
    }
}
