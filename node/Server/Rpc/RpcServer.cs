using System.Net;
using Kv.Client.Rpc.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Server.Rpc;

/// <summary>
/// A gRPC server on Kestrel: one endpoint, cleartext HTTP/2 (prior knowledge) or TLS with
/// ALPN h2, optionally requiring client certificates. Start it with <see cref="StartAsync"/>,
/// stop it by disposing it.
/// </summary>
public sealed class RpcServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RpcServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The address clients dial, for example <c>http://127.0.0.1:50051</c>.</summary>
    public Uri Address { get; }

    /// <summary>The port actually bound (useful when the options asked for port 0).</summary>
    public int Port => Address.Port;

    public static async Task<RpcServer> StartAsync(RpcServerOptions options, IEnumerable<ServerServiceDefinition> services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(services);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => Configure(kestrel, options));
        options.ConfigureLogging?.Invoke(builder.Logging);
        var app = builder.Build();
        try
        {
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Kv.Node.Server.Rpc");
            var dispatcher = new RpcDispatcher(services, options, logger);
            app.Run(dispatcher.HandleAsync);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new RpcServer(app, new Uri(bound.Replace("[::]", "localhost", StringComparison.Ordinal)));
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        using (var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _app.StopAsync(stopping.Token).ConfigureAwait(false);
        }

        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Kestrel limits tuned for gRPC: long-lived streams, our own message limits.</summary>
    internal static void Configure(KestrelServerOptions kestrel, RpcServerOptions options)
    {
        kestrel.AddServerHeader = false;
        // Message size is limited per message (MaxReceiveMessageSize), not per stream: a
        // streaming call may carry any number of messages.
        kestrel.Limits.MaxRequestBodySize = null;
        // A stream may be idle between messages for as long as the application likes.
        kestrel.Limits.MinRequestBodyDataRate = null;
        kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxConcurrentStreamsPerConnection;
        kestrel.Limits.Http2.KeepAlivePingDelay = options.KeepAlivePingDelay;
        kestrel.Limits.Http2.KeepAlivePingTimeout = options.KeepAlivePingTimeout;
        kestrel.Listen(options.EndPoint, listen =>
        {
            if (options.ServerCertificate is not { } certificate)
            {
                listen.Protocols = HttpProtocols.Http2;
                return;
            }

            listen.Protocols = HttpProtocols.Http1AndHttp2;
            var https = new HttpsConnectionAdapterOptions { ServerCertificate = certificate };
            if (options.ClientCertificateAuthority is { } authority)
            {
                https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                https.ClientCertificateValidation = (client, chain, errors) => CertificateTrust.ChainsTo(authority, client, chain, errors);
            }

            listen.UseHttps(https);
        });
    }

    /// <summary>Loopback, any free port: the usual choice of tests and benchmarks.</summary>
    public static IPEndPoint LoopbackAnyPort => new(IPAddress.Loopback, 0);
}
