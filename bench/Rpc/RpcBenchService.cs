using Grpc.Core;
using Kv.Proto.V1;

namespace Kv.Bench.Rpc;

/// <summary>
/// The work both endpoints do per request: parse an EchoRequest, answer with its payload
/// (unary) or with <c>count</c> responses of <c>response_size</c> bytes (streaming). The
/// plain Kestrel endpoint (<see cref="PlainHttp2Endpoint"/>) does exactly the same.
/// </summary>
internal sealed class RpcBenchService : Echo.EchoBase
{
    public override Task<EchoResponse> Unary(EchoRequest request, ServerCallContext context) =>
        Task.FromResult(new EchoResponse { Payload = request.Payload });

    public override async Task ServerStream(EchoRequest request, IServerStreamWriter<EchoResponse> responseStream, ServerCallContext context)
    {
        var response = Response(request);
        for (var i = 0; i < request.Count; i++)
        {
            await responseStream.WriteAsync(response, context.CancellationToken);
        }
    }

    /// <summary>The streamed response: built once, as the plain endpoint does.</summary>
    public static EchoResponse Response(EchoRequest request) =>
        new() { Payload = Google.Protobuf.ByteString.CopyFrom(new byte[request.ResponseSize]) };

    /// <summary>A status check the benchmark client makes once, so a broken endpoint cannot look fast.</summary>
    public static void EnsureOk(Status status)
    {
        if (status.StatusCode != StatusCode.OK)
        {
            throw new InvalidOperationException($"benchmark call failed: {status}");
        }
    }
}
