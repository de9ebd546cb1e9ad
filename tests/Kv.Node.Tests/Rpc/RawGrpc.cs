using System.Buffers.Binary;
using System.Net;

namespace Kv.Node.Tests.Rpc;

/// <summary>
/// Hand-made gRPC requests over HttpClient (HTTP/2 prior knowledge), for inputs our own
/// client would never produce: bad prefixes, wrong content types, odd headers.
/// </summary>
internal static class RawGrpc
{
    /// <summary>What came back: HTTP status, grpc-status/message (trailers or Trailers-Only headers), body.</summary>
    public sealed record Response(HttpStatusCode HttpStatus, string? GrpcStatus, string? GrpcMessage, byte[] Body);

    /// <summary>A length-prefixed message; <paramref name="declaredLength"/> may lie.</summary>
    public static byte[] Frame(byte[] message, byte flag = 0, uint? declaredLength = null)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), declaredLength ?? (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    public static async Task<Response> PostAsync(
        Uri address,
        string path,
        byte[] body,
        string contentType = "application/grpc",
        IEnumerable<KeyValuePair<string, string>>? headers = null,
        HttpMethod? method = null)
    {
        using var handler = new SocketsHttpHandler();
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(method ?? HttpMethod.Post, new Uri(address, path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (request.Method != HttpMethod.Get)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach (var header in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        using var response = await client.SendAsync(request);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var status = Value(response.TrailingHeaders, "grpc-status") ?? Value(response.Headers, "grpc-status");
        var message = Value(response.TrailingHeaders, "grpc-message") ?? Value(response.Headers, "grpc-message");
        return new Response(response.StatusCode, status, message, bytes);
    }

    private static string? Value(System.Net.Http.Headers.HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;
}
