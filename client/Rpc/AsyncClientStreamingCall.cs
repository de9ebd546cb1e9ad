using System.Runtime.CompilerServices;

namespace Kv.Client.Rpc;

/// <summary>
/// A client-streaming call in progress: write requests, complete the stream, then await
/// <see cref="ResponseAsync"/> (or the call itself). Dispose cancels an unfinished call.
/// </summary>
public sealed class AsyncClientStreamingCall<TRequest, TResponse> : IDisposable
{
    private readonly IClientCall<TRequest, TResponse> _call;
    private readonly Lazy<Task<TResponse>> _response;

    public AsyncClientStreamingCall(IClientCall<TRequest, TResponse> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        _call = call;
        _response = new Lazy<Task<TResponse>>(call.ReadSingleResponseAsync);
    }

    public IClientStreamWriter<TRequest> RequestStream => _call.RequestStream;

    /// <summary>The single response; fails with <see cref="RpcException"/> on a non-OK status.</summary>
    public Task<TResponse> ResponseAsync => _response.Value;

    public Task<Metadata> ResponseHeadersAsync => _call.ResponseHeadersAsync;

    public TaskAwaiter<TResponse> GetAwaiter() => ResponseAsync.GetAwaiter();

    public Status GetStatus() => _call.GetStatus();

    public Metadata GetTrailers() => _call.GetTrailers();

    public void Dispose() => _call.Dispose();
}
