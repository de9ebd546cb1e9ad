using System.Net;

namespace Kv.Client.Rpc.Wire;

/// <summary>
/// Maps what HTTP/2 itself reports to gRPC statuses, as grpc/doc/http-grpc-status-mapping.md
/// and PROTOCOL-HTTP2.md ("Errors") specify.
/// </summary>
public static class StatusMapping
{
    /// <summary>A non-200 HTTP response without a grpc-status.</summary>
    public static StatusCode FromHttpStatus(HttpStatusCode status) => (int)status switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };

    /// <summary>An RST_STREAM or GOAWAY error code.</summary>
    public static StatusCode FromHttp2ErrorCode(long errorCode) => errorCode switch
    {
        0x7 => StatusCode.Unavailable,        // REFUSED_STREAM: safe to retry
        0x8 => StatusCode.Cancelled,          // CANCEL
        0xB => StatusCode.ResourceExhausted,  // ENHANCE_YOUR_CALM
        0xC => StatusCode.PermissionDenied,   // INADEQUATE_SECURITY
        _ => StatusCode.Internal,
    };
}
