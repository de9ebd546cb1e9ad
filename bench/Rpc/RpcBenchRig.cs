using Google.Protobuf;
using Grpc.Net.Client;
using Kv.Client.Transport;
using Kv.Node.Server.Hosting;
using Kv.Proto.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Kv.Bench.Rpc;

/// <summary>
/// Both sides of the RPC comparison, started together: the node's gRPC server (Grpc.AspNetCore) and our channel (Grpc.Net.Client), the plain
/// Kestrel HTTP/2 endpoint and its client, and the requests every mode sends. Disposed in
/// reverse order of creation.
/// </summary>
internal sealed class RpcBenchRig : IAsyncDisposable
{
    public const int UnaryPayload = 100;
    public const int StreamMessages = 50_000;
    public const int StreamMessageSize = 100;

    private readonly GrpcServer _grpcServer;
    private readonly PlainHttp2Endpoint _plainServer;
    private readonly GrpcChannel _channel;

    private RpcBenchRig(GrpcServer grpcServer, PlainHttp2Endpoint plainServer)
    {
        _grpcServer = grpcServer;
        _plainServer = plainServer;
        _channel = KvChannels.Create(grpcServer.Address);
        Plain = new PlainHttp2Client(plainServer.Address);
        Grpc = new Echo.EchoClient(_channel);
    }

    public Echo.EchoClient Grpc { get; }

    public PlainHttp2Client Plain { get; }

    public EchoRequest UnaryRequest { get; } = new() { Payload = ByteString.CopyFrom(new byte[UnaryPayload]) };

    public EchoRequest StreamRequest { get; } = new() { Count = StreamMessages, ResponseSize = StreamMessageSize };

    public static async Task<RpcBenchRig> StartAsync()
    {
        var grpcServer = await GrpcServer.StartAsync(
            new GrpcServerOptions(),
            services => services.AddSingleton(new RpcBenchService()),
            endpoints => endpoints.MapGrpcService<RpcBenchService>());
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
