namespace Kv.Client.Rpc;

/// <summary>
/// A server-streaming call in progress. Dispose it to cancel the call if the stream was not
/// read to the end (the transport resets the HTTP/2 stream).
/// </summary>
public sealed class AsyncServerStreamingCall<TResponse>(IClientCall<TResponse> call) : IDisposable
{
    public IAsyncStreamReader<TResponse> ResponseStream => call.ResponseStream;

    public Task<Metadata> ResponseHeadersAsync => call.ResponseHeadersAsync;

    public Status GetStatus() => call.GetStatus();

    public Metadata GetTrailers() => call.GetTrailers();

    public void Dispose() => call.Dispose();
}
