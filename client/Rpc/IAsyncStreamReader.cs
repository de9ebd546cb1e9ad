namespace Kv.Client.Rpc;

/// <summary>
/// Reads a stream of messages. Not thread-safe: one <see cref="MoveNextAsync"/> at a time.
/// </summary>
public interface IAsyncStreamReader<out T>
{
    /// <summary>The message read by the last successful <see cref="MoveNextAsync"/>.</summary>
    T Current { get; }

    /// <summary>
    /// Reads the next message: true when <see cref="Current"/> holds one, false at the end of a
    /// successful stream. A call that ends with a non-OK status throws <see cref="RpcException"/>.
    /// </summary>
    ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken = default);
}
