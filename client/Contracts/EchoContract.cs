using Kv.Client.Rpc;
using Kv.Proto.V1;

namespace Kv.Client.Contracts;

/// <summary>
/// Method descriptors of <c>kv.v1.Echo</c> (proto/kv/v1/echo.proto). Hand-written because the
/// code generator runs with GrpcServices="None"; a test checks them against the proto's
/// descriptor so the two cannot drift apart.
/// </summary>
public static class EchoContract
{
    public const string ServiceName = "kv.v1.Echo";

    private static readonly Marshaller<EchoRequest> Request = Marshallers.Create(EchoRequest.Parser);
    private static readonly Marshaller<EchoResponse> Response = Marshallers.Create(EchoResponse.Parser);

    public static readonly Method<EchoRequest, EchoResponse> Unary = new(MethodType.Unary, ServiceName, "Unary", Request, Response);

    public static readonly Method<EchoRequest, EchoResponse> ServerStream = new(MethodType.ServerStreaming, ServiceName, "ServerStream", Request, Response);

    public static readonly Method<EchoRequest, EchoResponse> ClientStream = new(MethodType.ClientStreaming, ServiceName, "ClientStream", Request, Response);

    public static readonly Method<EchoRequest, EchoResponse> Bidi = new(MethodType.DuplexStreaming, ServiceName, "Bidi", Request, Response);
}
