using Kv.Client.Contracts;
using Kv.Client.Rpc.Http;
using Kv.Node.Server.Rpc;
using Kv.Node.Server.Services;

namespace Kv.Node.Tests.Rpc;

/// <summary>
/// A real cleartext HTTP/2 server on 127.0.0.1 (free port) serving <c>kv.v1.Echo</c> and the
/// test-only <see cref="FaultyService"/>, with a 1 MiB receive limit so limit tests stay small.
/// </summary>
public sealed class EchoServerFixture : IAsyncLifetime
{
    public const int MaxReceive = 1024 * 1024;

    public EchoService Echo { get; } = new();

    public RpcServer Server { get; private set; } = null!;

    public RpcChannel Channel { get; private set; } = null!;

    public EchoClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await RpcServer.StartAsync(
            new RpcServerOptions { MaxReceiveMessageSize = MaxReceive },
            [Echo.BindService(), FaultyService.Bind()]);
        Channel = new RpcChannel(Server.Address);
        Client = new EchoClient(Channel);
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
    }
}
