using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Kv.Node.Server.Observability;

/// <summary>
/// The node's second listener: plain HTTP/1.1 for /metrics, /healthz and /readyz
/// (<see cref="ObservabilityEndpoints"/>), on --metrics-addr. Why a second port: the RPC
/// endpoint speaks cleartext HTTP/2 with prior knowledge only (h2c gRPC), which Prometheus,
/// curl without flags and Kubernetes HTTP probes do not; Kestrel offers HTTP/1.1 and HTTP/2 on one
/// cleartext endpoint only by dropping prior-knowledge HTTP/2, which would break gRPC. It starts
/// before the store opens, so probes get answers (503 "starting") while the node starts.
/// </summary>
public sealed class ObservabilityServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private ObservabilityServer(WebApplication app, Uri address)
    {
        this.app = app;
        Address = address;
    }

    /// <summary>Where it listens, for example <c>http://127.0.0.1:20180</c> (the bound port when asked for 0).</summary>
    public Uri Address { get; }

    public static async Task<ObservabilityServer> StartAsync(IPEndPoint endPoint, NodeMetrics metrics, NodeHealth health, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(endPoint, listen => listen.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        try
        {
            app.UseNodeObservability(metrics, health);
            app.Run(context =>
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            });
            await app.StartAsync(ct).ConfigureAwait(false);
            var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new ObservabilityServer(app, new Uri(bound.Replace("[::]", "localhost", StringComparison.Ordinal)));
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
            await app.StopAsync(stopping.Token).ConfigureAwait(false);
        }

        await app.DisposeAsync().ConfigureAwait(false);
    }
}
