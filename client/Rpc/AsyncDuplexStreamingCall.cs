namespace Kv.Client.Rpc;

/// <summary>
/// A bidirectional call in progress. The two streams are independent: one writer and one
/// reader may run concurrently. Dispose cancels an unfinished call.
/// </summary>
public sealed class AsyncDuplexStreamingCall<TRequest, TResponse>(IClientCall<TRequest, TResponse> call) : IDisposable
{
    public IClientStreamWriter<TRequest> RequestStream => call.RequestStream;

    public IAsyncStreamReader<TResponse> ResponseStream => call.ResponseStream;

    public Task<Metadata> ResponseHeadersAsync => call.ResponseHeadersAsync;

    public Status GetStatus() => call.GetStatus();

    public Metadata GetTrailers() => call.GetTrailers();

    public void Dispose() => call.Dispose();
}
