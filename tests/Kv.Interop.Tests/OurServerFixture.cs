using Kv.Node.Server.Hosting;
using Kv.Node.Tests.Rpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Kv.Interop.Tests;

/// <summary>The node's Grpc.AspNetCore server with the test Echo service on 127.0.0.1, free port, 1 MiB receive limit.</summary>
public sealed class OurServerFixture : IAsyncLifetime
{
    public const int MaxReceive = 1024 * 1024;

    public EchoService Echo { get; } = new();

    public GrpcServer Server { get; private set; } = null!;

    /// <summary>host:port, as grpc-js targets are written.</summary>
    public string Target => $"127.0.0.1:{Server.Port}";

    public async Task InitializeAsync() => Server = await StartAsync(Echo, new GrpcServerOptions { MaxReceiveMessageSize = MaxReceive });

    public async Task DisposeAsync() => await Server.DisposeAsync();

    /// <summary>A server hosting <paramref name="echo"/> with these options.</summary>
    public static Task<GrpcServer> StartAsync(EchoService echo, GrpcServerOptions options) =>
        GrpcServer.StartAsync(options, services => services.AddSingleton(echo), endpoints => endpoints.MapGrpcService<EchoService>());
}
