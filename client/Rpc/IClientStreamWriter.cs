namespace Kv.Client.Rpc;

/// <summary>
/// Writes a client's stream of request messages. Not thread-safe: one write at a time, and
/// <see cref="CompleteAsync"/> after the last one (half-close). A write after the call ended
/// throws the call's <see cref="RpcException"/>.
/// </summary>
public interface IClientStreamWriter<in T>
{
    ValueTask WriteAsync(T message, CancellationToken cancellationToken = default);

    /// <summary>Signals that no more requests follow (HTTP/2 END_STREAM).</summary>
    ValueTask CompleteAsync();
}
