namespace Kv.Node.Server.Rpc;

/// <summary>
/// Writes a server's stream of responses. Not thread-safe: one write at a time. Each write is
/// flushed, so it waits for HTTP/2 flow control: a client that does not read slows the writer
/// down rather than growing the server's memory.
/// </summary>
public interface IServerStreamWriter<in T>
{
    ValueTask WriteAsync(T message, CancellationToken cancellationToken = default);
}
