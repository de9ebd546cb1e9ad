using System.Buffers;
using System.Net;

namespace Kv.Client.Rpc.Http;

/// <summary>
/// The body of a call with one request: the framed message, serialized once into a pooled
/// buffer before sending (so size limits are checked before any byte leaves).
/// The buffer goes back to the pool only when the content is disposed and no send is in
/// progress: the handler may still be copying from it after the response has arrived.
/// </summary>
internal sealed class UnaryRequestContent : HttpContent
{
    private readonly object _sync = new();
    private byte[]? _buffer;
    private readonly int _length;
    private int _writers;
    private bool _disposed;

    public UnaryRequestContent(byte[] pooledBuffer, int length)
    {
        _buffer = pooledBuffer;
        _length = length;
        Headers.TryAddWithoutValidation("Content-Type", Wire.GrpcProtocol.ContentType);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        byte[] buffer;
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed || _buffer is null, this);
            buffer = _buffer;
            _writers++;
        }

        try
        {
            await stream.WriteAsync(buffer.AsMemory(0, _length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_sync)
            {
                _writers--;
                ReturnIfIdle();
            }
        }
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

    private void ReturnIfIdle()
    {
        if (_disposed && _writers == 0 && _buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
