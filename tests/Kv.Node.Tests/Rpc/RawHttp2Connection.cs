using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kv.Node.Tests.Rpc;

/// <summary>
/// A deliberately minimal HTTP/2 client on a raw socket, for behaviour no well-behaved client
/// shows: streams it never reads, frames that break the protocol. Headers are HPACK literals
/// without indexing (RFC 7541 6.2.2), which every decoder must accept. Responses are not
/// decoded beyond frame type, flags and stream id.
/// </summary>
internal sealed class RawHttp2Connection : IAsyncDisposable
{
    public const byte Data = 0x0, Headers = 0x1, RstStream = 0x3, Settings = 0x4, Ping = 0x6, GoAway = 0x7, WindowUpdate = 0x8;
    public const byte EndStream = 0x1, EndHeaders = 0x4, Ack = 0x1;

    private static readonly byte[] Preface = Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private RawHttp2Connection(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<RawHttp2Connection> ConnectAsync(Uri address)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, address.Port);
        return new RawHttp2Connection(tcp);
    }

    /// <summary>Sends the preface and our SETTINGS (optionally a stream window), without waiting.</summary>
    public async Task HandshakeAsync(uint? initialWindowSize = null)
    {
        await WriteRawAsync(Preface);
        var settings = new List<byte>();
        if (initialWindowSize is { } window)
        {
            settings.AddRange([0x00, 0x04]);
            var value = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(value, window);
            settings.AddRange(value);
        }

        await WriteFrameAsync(Settings, 0, 0, [.. settings]);
        await WriteFrameAsync(Settings, Ack, 0, []);
    }

    public Task WriteRawAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask();

    public async Task WriteFrameAsync(byte type, byte flags, int streamId, byte[] payload)
    {
        var header = new byte[9];
        header[0] = (byte)(payload.Length >> 16);
        header[1] = (byte)(payload.Length >> 8);
        header[2] = (byte)payload.Length;
        header[3] = type;
        header[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(5), streamId);
        await _stream.WriteAsync(header);
        await _stream.WriteAsync(payload);
    }

    /// <summary>Opens a gRPC stream: a POST to <paramref name="path"/> with the usual headers.</summary>
    public Task OpenGrpcStreamAsync(int streamId, string path, bool endStream = false) =>
        WriteFrameAsync(Headers, (byte)(EndHeaders | (endStream ? EndStream : 0)), streamId, EncodeHeaders(
            (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "127.0.0.1"),
            ("content-type", "application/grpc"), ("te", "trailers")));

    public Task SendDataAsync(int streamId, byte[] data, bool endStream) =>
        WriteFrameAsync(Data, endStream ? EndStream : (byte)0, streamId, data);

    /// <summary>Reads frames until one matches, the connection closes (null) or the timeout passes (throws).</summary>
    public async Task<(byte Type, byte Flags, int StreamId, byte[] Payload)?> ReadUntilAsync(Func<byte, int, bool> match, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var header = new byte[9];
        while (true)
        {
            if (!await ReadExactlyOrEndAsync(header, cts.Token))
            {
                return null;
            }

            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            var payload = new byte[length];
            if (!await ReadExactlyOrEndAsync(payload, cts.Token))
            {
                return null;
            }

            var streamId = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & 0x7FFFFFFF;
            if (match(header[3], streamId))
            {
                return (header[3], header[4], streamId, payload);
            }
        }
    }

    /// <summary>True when the peer closed the connection (end of stream or reset) within the timeout.</summary>
    public async Task<bool> ClosedByPeerAsync(TimeSpan timeout)
    {
        try
        {
            return await ReadUntilAsync((_, _) => false, timeout) is null;
        }
        catch (IOException)
        {
            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }

    private async Task<bool> ReadExactlyOrEndAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            await _stream.ReadExactlyAsync(buffer, cancellationToken);
            return true;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
    }

    private static byte[] EncodeHeaders(params (string Name, string Value)[] headers)
    {
        var block = new List<byte>();
        foreach (var (name, value) in headers)
        {
            block.Add(0x00);    // literal without indexing, new name
            AppendString(block, name);
            AppendString(block, value);
        }

        return [.. block];
    }

    private static void AppendString(List<byte> block, string s)
    {
        var bytes = Encoding.ASCII.GetBytes(s);
        AppendInteger(block, bytes.Length, 7, 0x00);   // H = 0: no Huffman
        block.AddRange(bytes);
    }

    /// <summary>RFC 7541 5.1 integer with an N-bit prefix.</summary>
    private static void AppendInteger(List<byte> block, int value, int prefixBits, byte firstByteFlags)
    {
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            block.Add((byte)(firstByteFlags | value));
            return;
        }

        block.Add((byte)(firstByteFlags | max));
        value -= max;
        while (value >= 128)
        {
            block.Add((byte)((value % 128) + 128));
            value /= 128;
        }

        block.Add((byte)value);
    }
}
