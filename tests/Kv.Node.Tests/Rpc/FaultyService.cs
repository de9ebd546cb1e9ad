using Kv.Client.Rpc;
using Kv.Node.Server.Rpc;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Rpc;

/// <summary>A test service whose handlers misbehave in ways a real handler might.</summary>
public static class FaultyService
{
    public const string SecretInException = "secret-detail-that-must-not-leak";

    private static readonly Marshaller<EchoRequest> Request = Marshallers.Create(EchoRequest.Parser);
    private static readonly Marshaller<EchoResponse> Response = Marshallers.Create(EchoResponse.Parser);

    /// <summary>Throws an ordinary exception (a bug in a handler).</summary>
    public static readonly Method<EchoRequest, EchoResponse> Throw = new(MethodType.Unary, "test.Faulty", "Throw", Request, Response);

    /// <summary>Writes two messages, then throws: the status must arrive in trailers.</summary>
    public static readonly Method<EchoRequest, EchoResponse> ThrowAfterMessages = new(MethodType.ServerStreaming, "test.Faulty", "ThrowAfterMessages", Request, Response);

    /// <summary>Sends custom headers and trailers.</summary>
    public static readonly Method<EchoRequest, EchoResponse> Metadata = new(MethodType.Unary, "test.Faulty", "Metadata", Request, Response);

    public static ServerServiceDefinition Bind() => ServerServiceDefinition.CreateBuilder()
        .AddMethod(Throw, (UnaryServerMethod<EchoRequest, EchoResponse>)((_, _) => throw new InvalidOperationException(SecretInException)))
        .AddMethod(ThrowAfterMessages, (ServerStreamingServerMethod<EchoRequest, EchoResponse>)(async (_, stream, context) =>
        {
            await stream.WriteAsync(new EchoResponse { Index = 0 }, context.CancellationToken);
            await stream.WriteAsync(new EchoResponse { Index = 1 }, context.CancellationToken);
            throw new InvalidOperationException(SecretInException);
        }))
        .AddMethod(Metadata, (UnaryServerMethod<EchoRequest, EchoResponse>)(async (request, context) =>
        {
            var echoed = context.RequestHeaders.GetValue("x-echo") ?? "(none)";
            var bin = context.RequestHeaders.GetValueBytes("x-data-bin") ?? [];
            var headers = new Kv.Client.Rpc.Metadata { { "x-header", "h1" } };
            await context.WriteResponseHeadersAsync(headers);
            context.ResponseTrailers.Add("x-trailer", echoed);
            context.ResponseTrailers.Add("x-data-bin", bin);
            return new EchoResponse { Message = request.Message };
        }))
        .Build();
}
