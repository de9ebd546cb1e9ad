using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using Google.Protobuf;
using Kv.Proto.V1;

namespace Kv.Bench.Rpc;

/// <summary>
/// The baseline's client: SocketsHttpHandler over cleartext HTTP/2 with the same connection
/// settings as our RpcChannel, reading bodies through a pooled buffer as our client does.
/// </summary>
internal sealed class PlainHttp2Client(Uri address) : IDisposable
{
    private readonly HttpMessageInvoker _invoker = new(new SocketsHttpHandler { EnableMultipleHttp2Connections = true, UseProxy = false, UseCookies = false });
    private readonly Uri _unary = new(address, "/unary");
    private readonly Uri _stream = new(address, "/stream");

    public async Task<EchoResponse> UnaryAsync(EchoRequest request)
    {
        using var response = await SendAsync(_unary, request);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            var length = 0;
            int read;
            while ((read = await body.ReadAsync(buffer.AsMemory(length))) > 0)
            {
                length += read;
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
            }

            return EchoResponse.Parser.ParseFrom(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads the whole stream, parsing every message; returns how many there were.</summary>
    public async Task<long> StreamAsync(EchoRequest request)
    {
        using var response = await SendAsync(_stream, request);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        long messages = 0;
        try
        {
            int start = 0, end = 0;
            while (true)
            {
                while (end - start >= 4 && end - start >= 4 + BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(start)))
                {
                    var size = BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(start));
                    _ = EchoResponse.Parser.ParseFrom(buffer.AsSpan(start + 4, size));
                    start += 4 + size;
                    messages++;
                }

                Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                end -= start;
                start = 0;
                var read = await body.ReadAsync(buffer.AsMemory(end));
                if (read == 0)
                {
                    return messages;
                }

                end += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose() => _invoker.Dispose();

    private async Task<HttpResponseMessage> SendAsync(Uri uri, EchoRequest request)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(request.ToByteArray()),
        };
        var response = await _invoker.SendAsync(message, CancellationToken.None);
        response.EnsureSuccessStatusCode();
        return response;
    }
}
