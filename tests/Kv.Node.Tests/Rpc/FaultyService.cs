using Google.Protobuf;
using Grpc.Core;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Rpc;

/// <summary>
/// A test service (<c>test.Faulty</c>, no .proto) whose handlers misbehave in ways a real handler
/// might. Bound the way generated code binds a service: Grpc.AspNetCore calls
/// <see cref="BindService"/>, then looks up each rpc's handler as a virtual method of this type
/// (as it does for a generated base class), which is why the class is not sealed.
/// </summary>
[BindServiceMethod(typeof(FaultyService), nameof(BindService))]
public class FaultyService
{
    public const string SecretInException = "secret-detail-that-must-not-leak";

    public static readonly Marshaller<EchoRequest> Request = Marshallers.Create(m => m.ToByteArray(), EchoRequest.Parser.ParseFrom);
    public static readonly Marshaller<EchoResponse> Response = Marshallers.Create(m => m.ToByteArray(), EchoResponse.Parser.ParseFrom);

    /// <summary>Throws an ordinary exception (a bug in a handler).</summary>
    public static readonly Method<EchoRequest, EchoResponse> ThrowMethod = new(MethodType.Unary, "test.Faulty", nameof(Throw), Request, Response);

    /// <summary>Writes two messages, then throws: the status must arrive in trailers.</summary>
    public static readonly Method<EchoRequest, EchoResponse> ThrowAfterMessagesMethod = new(MethodType.ServerStreaming, "test.Faulty", nameof(ThrowAfterMessages), Request, Response);

    /// <summary>Sends custom headers and trailers.</summary>
    public static readonly Method<EchoRequest, EchoResponse> MetadataMethod = new(MethodType.Unary, "test.Faulty", nameof(Metadata), Request, Response);

    public static void BindService(ServiceBinderBase binder, FaultyService? service)
    {
        ArgumentNullException.ThrowIfNull(binder);
        binder.AddMethod(ThrowMethod, service is null ? null : service.Throw);
        binder.AddMethod(ThrowAfterMessagesMethod, service is null ? null : service.ThrowAfterMessages);
        binder.AddMethod(MetadataMethod, service is null ? null : service.Metadata);
    }

    public virtual Task<EchoResponse> Throw(EchoRequest request, ServerCallContext context) =>
        throw new InvalidOperationException(SecretInException);

    public virtual async Task ThrowAfterMessages(EchoRequest request, IServerStreamWriter<EchoResponse> stream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(context);
        await stream.WriteAsync(new EchoResponse { Index = 0 }, context.CancellationToken);
        await stream.WriteAsync(new EchoResponse { Index = 1 }, context.CancellationToken);
        throw new InvalidOperationException(SecretInException);
    }

    public virtual async Task<EchoResponse> Metadata(EchoRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var echoed = context.RequestHeaders.GetValue("x-echo") ?? "(none)";
        var bin = context.RequestHeaders.GetValueBytes("x-data-bin") ?? [];
        await context.WriteResponseHeadersAsync(new Grpc.Core.Metadata { { "x-header", "h1" } });
        context.ResponseTrailers.Add("x-trailer", echoed);
        context.ResponseTrailers.Add("x-data-bin", bin);
        return new EchoResponse { Message = request.Message };
    }
}
