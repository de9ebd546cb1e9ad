using Google.Protobuf;
using Kv.Client.Contracts;
using Kv.Client.Rpc.Http;
using Kv.Node.Server.Rpc;
using Kv.Proto.V1;

namespace Kv.Bench.Rpc;

/// <summary>
/// Both sides of the RPC comparison, started together: our gRPC server and client, the plain
/// Kestrel HTTP/2 endpoint and its client, and the requests every mode sends. Disposed in
/// reverse order of creation.
/// </summary>
internal sealed class RpcBenchRig : IAsyncDisposable
{
    public const int UnaryPayload = 100;
    public const int StreamMessages = 50_000;
    public const int StreamMessageSize = 100;

    private readonly RpcServer _grpcServer;
    private readonly PlainHttp2Endpoint _plainServer;
    private readonly RpcChannel _channel;

    private RpcBenchRig(RpcServer grpcServer, PlainHttp2Endpoint plainServer)
    {
        _grpcServer = grpcServer;
        _plainServer = plainServer;
        _channel = new RpcChannel(grpcServer.Address);
        Plain = new PlainHttp2Client(plainServer.Address);
        Grpc = new EchoClient(_channel);
    }

    public EchoClient Grpc { get; }

    public PlainHttp2Client Plain { get; }

    public EchoRequest UnaryRequest { get; } = new() { Payload = ByteString.CopyFrom(new byte[UnaryPayload]) };

    public EchoRequest StreamRequest { get; } = new() { Count = StreamMessages, ResponseSize = StreamMessageSize };

    public static async Task<RpcBenchRig> StartAsync()
    {
        var grpcServer = await RpcServer.StartAsync(new RpcServerOptions(), [RpcBenchService.Bind()]);
        try
        {
            return new RpcBenchRig(grpcServer, await PlainHttp2Endpoint.StartAsync());
        }
        catch
        {
            await grpcServer.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Plain.Dispose();
        _channel.Dispose();
        await _plainServer.DisposeAsync();
        await _grpcServer.DisposeAsync();
    }
}
