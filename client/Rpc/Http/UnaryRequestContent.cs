using System.Buffers;
using System.Net;

namespace Kv.Client.Rpc.Http;

/// <summary>
/// The body of a call with one request: the framed message, serialized once into a pooled
/// buffer before sending (so size limits are checked before any byte leaves).
/// The buffer goes back to the pool only when the content is disposed and no write from it is
/// in progress: the handler may still be copying from it after the response has arrived. A
/// write still running at disposal (rare: the server answered before reading the request)
/// keeps the buffer out of the pool for good; the GC takes it.
/// A ByteArrayContent so that SocketsHttpHandler knows the body is not duplex (an internal
/// property of its own content types): for duplex content it races the body against the
/// response headers with a Task.WhenAny on every call.
/// </summary>
internal sealed class UnaryRequestContent : ByteArrayContent
{
    private readonly object _sync = new();
    private byte[]? _buffer;
    private readonly int _length;
    private int _writers;          // writes started and not yet known to have finished synchronously
    private Task? _pendingWrite;   // the last write that went asynchronous
    private bool _neverReturn;     // two writes were in flight at once: the buffer stays out of the pool
    private bool _disposed;

    public UnaryRequestContent(byte[] pooledBuffer, int length)
        : base(pooledBuffer, 0, length)
    {
        _buffer = pooledBuffer;
        _length = length;
        Headers.TryAddWithoutValidation("Content-Type", Wire.GrpcProtocol.ContentType);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    /// <summary>
    /// Not an async method: the write's own task is returned as it is (as ByteArrayContent does),
    /// so a call pays for no state machine of ours here.
    /// </summary>
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        byte[] buffer;
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed || _buffer is null, this);
            buffer = _buffer;
            _writers++;
        }

        ValueTask write;
        try
        {
            write = stream.WriteAsync(buffer.AsMemory(0, _length), cancellationToken);
            if (write.IsCompleted)
            {
                write.GetAwaiter().GetResult();
                EndWrite(pending: null);
                return Task.CompletedTask;
            }
        }
        catch (Exception ex)
        {
            EndWrite(pending: null);
            return Task.FromException(ex);
        }

        var task = write.AsTask();
        EndWrite(task);
        return task;
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_sync)
            {
                _disposed = true;
                ReturnIfIdle();
            }
        }

        base.Dispose(disposing);
    }

    /// <summary>A write finished synchronously (<paramref name="pending"/> null) or goes on as <paramref name="pending"/>.</summary>
    private void EndWrite(Task? pending)
    {
        lock (_sync)
        {
            _writers--;
            if (pending is not null)
            {
                if (_pendingWrite is { IsCompleted: false })
                {
                    // Two writes in flight (a retried send over an abandoned one): never
                    // return the buffer, as we cannot tell when both are done with it.
                    _neverReturn = true;
                }

                _pendingWrite = pending;
            }

            ReturnIfIdle();
        }
    }

    private void ReturnIfIdle()
    {
        if (_disposed && _writers == 0 && _buffer is { } buffer)
        {
            _buffer = null;
            if (!_neverReturn && _pendingWrite is null or { IsCompleted: true })
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
