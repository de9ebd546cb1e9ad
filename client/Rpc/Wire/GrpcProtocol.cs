namespace Kv.Client.Rpc.Wire;

/// <summary>
/// Names and constants of the gRPC-over-HTTP/2 protocol (grpc/doc/PROTOCOL-HTTP2.md) that
/// both the client and the server need.
/// </summary>
public static class GrpcProtocol
{
    /// <summary>The content type of every gRPC request and response.</summary>
    public const string ContentType = "application/grpc";

    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";
    public const string TimeoutHeader = "grpc-timeout";
    public const string EncodingHeader = "grpc-encoding";
    public const string AcceptEncodingHeader = "grpc-accept-encoding";

    /// <summary>The only message encoding we speak: no compression.</summary>
    public const string IdentityEncoding = "identity";

    /// <summary>Length-Prefixed-Message header: 1 byte Compressed-Flag + 4 bytes big-endian length.</summary>
    public const int FrameHeaderSize = 5;

    /// <summary>Default limit on a received message (as in gRPC's implementations): 4 MiB.</summary>
    public const int DefaultMaxReceiveMessageSize = 4 * 1024 * 1024;

    /// <summary>
    /// True when a Content-Type names gRPC: exactly <c>application/grpc</c>, or followed by
    /// <c>+format</c> or <c>;parameters</c> (case-insensitive).
    /// </summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return contentType.Length == ContentType.Length || contentType[ContentType.Length] is '+' or ';';
    }
}
