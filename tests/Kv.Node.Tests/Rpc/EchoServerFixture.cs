using Grpc.Core;
using Grpc.Net.Client;
using Kv.Client.Transport;
using Kv.Node.Server.Hosting;
using Kv.Proto.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Kv.Node.Tests.Rpc;

/// <summary>
/// A real cleartext HTTP/2 server on 127.0.0.1 (free port): the node's <see cref="GrpcServer"/>
/// serving <c>kv.v1.Echo</c> and the test-only <see cref="FaultyService"/>, with a 1 MiB
/// receive limit so limit tests stay small.
/// </summary>
public sealed class EchoServerFixture : IAsyncLifetime
{
    public const int MaxReceive = 1024 * 1024;

    public EchoService Echo { get; } = new();

    public GrpcServer Server { get; private set; } = null!;

    public GrpcChannel Channel { get; private set; } = null!;

    /// <summary>Calls methods that have no generated stub (unknown ones, <see cref="FaultyService"/>).</summary>
    public CallInvoker Invoker { get; private set; } = null!;

    public Echo.EchoClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await StartAsync(Echo, new GrpcServerOptions { MaxReceiveMessageSize = MaxReceive });
        Channel = KvChannels.Create(Server.Address);
        Invoker = Channel.CreateCallInvoker();
        Client = new Echo.EchoClient(Channel);
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
    }

    /// <summary>A server hosting <paramref name="echo"/> and <see cref="FaultyService"/> with these options.</summary>
    public static Task<GrpcServer> StartAsync(EchoService echo, GrpcServerOptions options) =>
        GrpcServer.StartAsync(
            options,
            services =>
            {
                services.AddSingleton(echo);
                services.AddSingleton(new FaultyService());
            },
            endpoints =>
            {
                endpoints.MapGrpcService<EchoService>();
                endpoints.MapGrpcService<FaultyService>();
            });
}
