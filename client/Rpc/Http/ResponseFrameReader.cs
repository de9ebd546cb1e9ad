using System.Buffers;
using System.Runtime.CompilerServices;
using Kv.Client.Rpc.Wire;

namespace Kv.Client.Rpc.Http;

/// <summary>
/// Reads length-prefixed messages from a response body through one pooled buffer, reading as
/// much as the stream has so a small message and the end of the body usually take one read.
/// Contract: one reader at a time; <see cref="Payload"/> is valid until the next read;
/// <see cref="Dispose"/> only from the reading path (never while a read is in progress).
/// </summary>
internal sealed class ResponseFrameReader(Stream stream, int initialBufferSize) : IDisposable
{
    /// <summary>For calls with one response: pooled, so a unary call pays nothing for its size.</summary>
    public const int SingleResponseBufferSize = 16 * 1024;

    /// <summary>For response streams: a burst of small messages is read in few calls.</summary>
    public const int StreamBufferSize = 64 * 1024;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(initialBufferSize);
    private int _start;     // first unread byte
    private int _end;       // one past the last byte read from the stream
    private int _consumed;  // bytes of the last returned message, skipped by the next read

    /// <summary>The message returned by the last successful read.</summary>
    public ReadOnlyMemory<byte> Payload { get; private set; }

    /// <summary>
    /// Returns the next message if it is already buffered, without touching the stream. False
    /// when more bytes are needed (then call <see cref="ReadAsync"/>). Throws as ReadAsync does.
    /// </summary>
    public bool TryReadBuffered(int maxMessageSize)
    {
        _start += _consumed;
        _consumed = 0;
        Payload = default;
        if (_end - _start < GrpcProtocol.FrameHeaderSize)
        {
            return false;
        }

        var length = ReadPrefix(maxMessageSize);
        var total = GrpcProtocol.FrameHeaderSize + length;
        if (_end - _start < total)
        {
            return false;
        }

        Payload = _buffer.AsMemory(_start + GrpcProtocol.FrameHeaderSize, length);
        _consumed = total;
        return true;
    }

    /// <summary>
    /// Reads the next message. False at a clean end of the body; throws <see cref="RpcException"/>
    /// for a body that ends inside a message, a compressed message (we negotiate no encoding) or
    /// a message larger than <paramref name="maxMessageSize"/>.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReadAsync(int maxMessageSize, CancellationToken cancellationToken)
    {
        // Pooled state machine: callers (HttpClientCall only) await each read exactly once.
        if (TryReadBuffered(maxMessageSize))
        {
            return true;
        }

        if (!await FillAsync(GrpcProtocol.FrameHeaderSize, cancellationToken).ConfigureAwait(false))
        {
            if (_end == _start)
            {
                return false;
            }

            throw new RpcException(new Status(StatusCode.Internal, "the response ended inside a message prefix"));
        }

        var length = ReadPrefix(maxMessageSize);
        var total = GrpcProtocol.FrameHeaderSize + length;
        if (!await FillAsync(total, cancellationToken).ConfigureAwait(false))
        {
            throw new RpcException(new Status(StatusCode.Internal, $"the response ended inside a message ({_end - _start - GrpcProtocol.FrameHeaderSize} of {length} bytes)"));
        }

        Payload = _buffer.AsMemory(_start + GrpcProtocol.FrameHeaderSize, length);
        _consumed = total;
        return true;
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _start = _end = _consumed = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Checks the buffered prefix at <see cref="_start"/>; returns the message length.</summary>
    private int ReadPrefix(int maxMessageSize)
    {
        MessageFrame.ReadHeader(_buffer.AsSpan(_start, GrpcProtocol.FrameHeaderSize), out var flag, out var length);
        if (flag != 0)
        {
            throw new RpcException(new Status(StatusCode.Internal, flag == 1
                ? "the server sent a compressed message, but no message encoding was negotiated"
                : $"invalid Compressed-Flag {flag} in a response message"));
        }

        if (length > Math.Min(maxMessageSize, int.MaxValue - GrpcProtocol.FrameHeaderSize))
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"Received message larger than max ({length} vs. {maxMessageSize})"));
        }

        return (int)length;
    }

    /// <summary>Reads until at least <paramref name="needed"/> unread bytes are buffered; false at end of body.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> FillAsync(int needed, CancellationToken cancellationToken)
    {
        while (_end - _start < needed)
        {
            // Unread bytes (less than one message) move to the front before every read, so
            // each read may fill the whole buffer rather than what is left of its tail.
            if (_start > 0 || _buffer.Length < needed)
            {
                Compact(needed);
            }

            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return false;
            }

            _end += read;
        }

        return true;
    }

    /// <summary>Moves the unread bytes to the front, into a larger buffer if <paramref name="needed"/> does not fit.</summary>
    private void Compact(int needed)
    {
        var unread = _end - _start;
        if (_buffer.Length >= needed)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, unread);
        }
        else
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
            Buffer.BlockCopy(_buffer, _start, larger, 0, unread);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        _start = 0;
        _end = unread;
    }
}
