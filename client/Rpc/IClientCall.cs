namespace Kv.Client.Rpc;

/// <summary>
/// The response side of a call a transport has started; the public call objects
/// (<see cref="AsyncServerStreamingCall{TResponse}"/> and friends) wrap it. Disposing it
/// before the call ended cancels the call.
/// </summary>
public interface IClientCall<TResponse> : IDisposable
{
    IAsyncStreamReader<TResponse> ResponseStream { get; }

    /// <summary>The server's response headers; fails with the call's status if none came.</summary>
    Task<Metadata> ResponseHeadersAsync { get; }

    /// <summary>Reads the single response of a unary-response call and the status after it.</summary>
    Task<TResponse> ReadSingleResponseAsync();

    /// <summary>The final status; throws <see cref="InvalidOperationException"/> before the call ended.</summary>
    Status GetStatus();

    /// <summary>The trailers; throws <see cref="InvalidOperationException"/> before the call ended.</summary>
    Metadata GetTrailers();
}

/// <summary>A started call with a request stream.</summary>
public interface IClientCall<in TRequest, TResponse> : IClientCall<TResponse>
{
    IClientStreamWriter<TRequest> RequestStream { get; }
}
