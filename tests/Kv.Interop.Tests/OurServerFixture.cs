using Kv.Node.Server.Rpc;
using Kv.Node.Server.Services;

namespace Kv.Interop.Tests;

/// <summary>Our Kestrel server with the Echo service on 127.0.0.1, free port, 1 MiB receive limit.</summary>
public sealed class OurServerFixture : IAsyncLifetime
{
    public const int MaxReceive = 1024 * 1024;

    public EchoService Echo { get; } = new();

    public RpcServer Server { get; private set; } = null!;

    /// <summary>host:port, as grpc-js targets are written.</summary>
    public string Target => $"127.0.0.1:{Server.Port}";

    public async Task InitializeAsync() =>
        Server = await RpcServer.StartAsync(new RpcServerOptions { MaxReceiveMessageSize = MaxReceive }, [Echo.BindService()]);

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
