using Kv.Client.Rpc;
using Kv.Client.Rpc.Wire;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Kv.Node.Server.Rpc;

/// <summary>How a call's ending is written to the HTTP/2 response.</summary>
internal static class GrpcResponse
{
    private const string StatusOk = "0";

    /// <summary>
    /// A response with no messages: status and trailers go in the one HEADERS frame, which
    /// Kestrel sends with END_STREAM because no body follows ("Trailers-Only").
    /// Precondition: the response has not started.
    /// </summary>
    public static void WriteTrailersOnly(HttpResponse response, Status status, Metadata? trailers)
    {
        response.StatusCode = StatusCodes.Status200OK;
        var headers = response.Headers;
        headers.ContentType = GrpcProtocol.ContentType;
        headers[GrpcProtocol.StatusHeader] = StatusText(status.StatusCode);
        if (status.Detail.Length > 0)
        {
            headers[GrpcProtocol.MessageHeader] = StatusMessageEncoding.Encode(status.Detail);
        }

        if (status.StatusCode == StatusCode.Unimplemented)
        {
            headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.IdentityEncoding;
        }

        if (trailers is { Count: > 0 })
        {
            foreach (var entry in trailers)
            {
                headers.Append(entry.Key, entry.Value);
            }
        }
    }

    /// <summary>Status and trailers after the messages. Precondition: the response has started.</summary>
    public static void WriteTrailers(HttpResponse response, Status status, Metadata? trailers)
    {
        response.AppendTrailer(GrpcProtocol.StatusHeader, StatusText(status.StatusCode));
        if (status.Detail.Length > 0)
        {
            response.AppendTrailer(GrpcProtocol.MessageHeader, StatusMessageEncoding.Encode(status.Detail));
        }

        if (trailers is { Count: > 0 })
        {
            foreach (var entry in trailers)
            {
                response.AppendTrailer(entry.Key, entry.Value);
            }
        }
    }

    /// <summary>
    /// A request that is not gRPC at all (wrong protocol, method or content type) gets a plain
    /// HTTP error, so that a non-gRPC client cannot mistake it for success (PROTOCOL-HTTP2.md).
    /// </summary>
    public static Task RefuseAsync(HttpContext http, int statusCode, string reason)
    {
        var response = http.Response;
        response.StatusCode = statusCode;
        response.Headers.ContentType = "text/plain; charset=utf-8";
        if (statusCode == StatusCodes.Status405MethodNotAllowed)
        {
            response.Headers.Allow = HttpMethods.Post;
        }

        if (!HttpProtocol.IsHttp2(http.Request.Protocol))
        {
            response.Headers[HeaderNames.Connection] = "close";
        }

        return response.WriteAsync(reason + "\n", http.RequestAborted);
    }

    private static string StatusText(StatusCode code) => code == StatusCode.OK
        ? StatusOk
        : ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
