using System.Net;
using Grpc.AspNetCore.Server;
using Grpc.AspNetCore.Server.Model;
using Kv.Client.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Primitives;

namespace Kv.Node.Server.Hosting;

/// <summary>
/// Grpc.AspNetCore on Kestrel with one endpoint: cleartext HTTP/2 (prior knowledge) or TLS with
/// ALPN h2, optionally requiring client certificates. The caller registers its service
/// instances and maps them (MapGrpcService); everything else about the wire (framing, deadlines,
/// status codes, unknown methods) is Grpc.AspNetCore's, except two refusals kept as gRPC's own
/// servers make them: a request that is not a valid message is INTERNAL
/// (<see cref="ParseStatusServiceMethodProvider{TService}"/>), and so is a malformed
/// grpc-timeout header (<see cref="RefuseMalformedTimeoutAsync"/>). Start it with
/// <see cref="StartAsync"/>, stop it by disposing it.
/// </summary>
public sealed class GrpcServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GrpcServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The address clients dial, for example <c>http://127.0.0.1:50051</c>.</summary>
    public Uri Address { get; }

    /// <summary>The port actually bound (useful when the options asked for port 0).</summary>
    public int Port => Address.Port;

    /// <summary>The server's services (tests: the health service's state).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Starts serving. <paramref name="register"/> adds the service instances (as singletons:
    /// Grpc.AspNetCore resolves a service from the container per call, and ours hold state);
    /// <paramref name="map"/> maps them, for example <c>endpoints.MapGrpcService&lt;T&gt;()</c>.
    /// </summary>
    public static async Task<GrpcServer> StartAsync(GrpcServerOptions options, Action<IServiceCollection> register, Action<IEndpointRouteBuilder> map, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(register);
        ArgumentNullException.ThrowIfNull(map);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => Configure(kestrel, options));
        builder.Services.AddRoutingCore();
        builder.Services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = options.MaxReceiveMessageSize;
            grpc.MaxSendMessageSize = options.MaxSendMessageSize;
            // Exception messages stay on the server: a handler's bug must not leak its details.
            grpc.EnableDetailedErrors = false;
            options.ConfigureGrpc?.Invoke(grpc);
        });
        // AddGrpc registers exactly one open-generic method provider, the one that binds generated
        // services; ours binds them the same way with parse failures reported as INTERNAL.
        builder.Services.RemoveAll(typeof(IServiceMethodProvider<>));
        builder.Services.AddSingleton(typeof(IServiceMethodProvider<>), typeof(ParseStatusServiceMethodProvider<>));
        options.ConfigureLogging?.Invoke(builder.Logging);
        register(builder.Services);
        var app = builder.Build();
        try
        {
            app.UseRouting();
            // After routing (it needs the endpoint), before the endpoints run.
            app.Use(RefuseMalformedTimeoutAsync);
            if (options.Authorization is { } authorization)
            {
                app.Use((context, next) => AuthorizeAsync(authorization, context, next));
            }

            map(app);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new GrpcServer(app, new Uri(bound.Replace("[::]", "localhost", StringComparison.Ordinal)));
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

    /// <summary>
    /// Refuses a gRPC call whose grpc-timeout is malformed (gRPC: one value of 1 to 8 digits and a
    /// unit, H M S m u or n) with INTERNAL, trailers-only, before any handler runs. Grpc.AspNetCore
    /// would log the header and run the call with no deadline at all, silently dropping the one its
    /// client meant to set. Only a header that is present costs a parse of a few characters;
    /// nothing is allocated.
    /// </summary>
    private static Task RefuseMalformedTimeoutAsync(HttpContext context, RequestDelegate next)
    {
        if (!context.Request.Headers.TryGetValue("grpc-timeout", out var timeout)
            || IsWellFormedTimeout(timeout)
            || context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is null)
        {
            return next(context);
        }

        // Status in the headers and no body: a trailers-only response, as Grpc.AspNetCore sends its
        // own refusals before a handler runs.
        var response = context.Response;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = "13";
        response.Headers["grpc-message"] = "malformed grpc-timeout header: expected 1 to 8 digits and a unit (H, M, S, m, u or n)";
        return Task.CompletedTask;
    }

    /// <summary>
    /// Secure mode: the call goes on only when <see cref="Security.CallAuthorizer"/> lets it;
    /// otherwise a trailers-only response with its status, before any handler runs. A request
    /// that is not a gRPC method (an unknown path) is refused the same way, unless its connection
    /// is authenticated (it then gets the usual not-found answer).
    /// </summary>
    private static Task AuthorizeAsync(Security.CallAuthorizer authorization, HttpContext context, RequestDelegate next)
    {
        var method = context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method;
        var status = authorization.Check(context, method?.ServiceName ?? "", method?.Name ?? "");
        if (status is not { } refused || (method is null && refused.StatusCode == Grpc.Core.StatusCode.PermissionDenied))
        {
            return next(context);
        }

        var response = context.Response;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)refused.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = Security.CallAuthorizer.EncodeMessage(refused.Detail);
        return Task.CompletedTask;
    }

    private static bool IsWellFormedTimeout(StringValues values) =>
        values is [{ Length: >= 2 and <= 9 } value]
        && !value.AsSpan(0, value.Length - 1).ContainsAnyExceptInRange('0', '9')
        && value[^1] is 'H' or 'M' or 'S' or 'm' or 'u' or 'n';

    /// <summary>Kestrel limits tuned for gRPC: long-lived streams, many of them per connection.</summary>
    private static void Configure(KestrelServerOptions kestrel, GrpcServerOptions options)
    {
        kestrel.AddServerHeader = false;
        // Message size is limited per message (MaxReceiveMessageSize), not per stream: a
        // streaming call may carry any number of messages.
        kestrel.Limits.MaxRequestBodySize = null;
        // A stream may be idle between messages for as long as the application likes.
        kestrel.Limits.MinRequestBodyDataRate = null;
        kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxConcurrentStreamsPerConnection;
        kestrel.Limits.Http2.InitialConnectionWindowSize = options.InitialConnectionWindowSize;
        kestrel.Limits.Http2.InitialStreamWindowSize = options.InitialStreamWindowSize;
        kestrel.Limits.Http2.KeepAlivePingDelay = options.KeepAlivePingDelay;
        kestrel.Limits.Http2.KeepAlivePingTimeout = options.KeepAlivePingTimeout;
        kestrel.Listen(options.EndPoint, listen =>
        {
            if (options.Authorization is not null)
            {
                ListenSecure(listen, options);
                return;
            }

            if (options.ServerCertificate is not { } certificate)
            {
                listen.Protocols = HttpProtocols.Http2;
                return;
            }

            // HTTP/1.1 is negotiable so that an HTTP/1.1 client gets Grpc.AspNetCore's 426
            // answer instead of a failed handshake.
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

    /// <summary>
    /// Secure mode's listener: TLS with a required client certificate, and a cleartext path kept
    /// only so that a plaintext caller hears why it is refused. The first byte of a connection
    /// tells them apart (a TLS ClientHello starts with 0x16, an HTTP/2 preface with 'P');
    /// cleartext connections skip the TLS middleware and reach the HTTP layer without a TLS
    /// feature, where <see cref="Security.CallAuthorizer"/> answers every call UNAUTHENTICATED.
    /// The handshake accepts any client certificate so that a wrong one is refused by the
    /// authorizer with a reason, not by a handshake failure the caller cannot read.
    /// </summary>
    private static void ListenSecure(ListenOptions listen, GrpcServerOptions options)
    {
        var certificate = options.ServerCertificate ?? throw new ArgumentException("secure mode (Authorization) needs a ServerCertificate");
        // HTTP/2 only: without TLS Kestrel would read Http1AndHttp2 as HTTP/1.1 (no ALPN to tell),
        // and the cleartext path must speak gRPC to be able to say why it refuses.
        listen.Protocols = HttpProtocols.Http2;
        Microsoft.AspNetCore.Connections.ConnectionDelegate? afterTls = null;
        listen.Use(next => async connection =>
        {
            var read = await connection.Transport.Input.ReadAsync(connection.ConnectionClosed).ConfigureAwait(false);
            var tls = read.Buffer.IsEmpty || read.Buffer.FirstSpan[0] == 0x16;
            // Nothing consumed: the next reader sees the same bytes.
            connection.Transport.Input.AdvanceTo(read.Buffer.Start);
            await (tls ? next(connection) : afterTls!(connection)).ConfigureAwait(false);
        });
        listen.UseHttps(new HttpsConnectionAdapterOptions
        {
            ServerCertificate = certificate,
            ClientCertificateMode = ClientCertificateMode.RequireCertificate,
            ClientCertificateValidation = (_, _, _) => true,
        });
        // Built before the middlewares above (the pipeline is built inside out): remembers the
        // HTTP layer so cleartext connections can be handed to it directly.
        listen.Use(next =>
        {
            afterTls = next;
            return next;
        });
    }

    /// <summary>Loopback, any free port: the usual choice of tests and benchmarks.</summary>
    public static IPEndPoint LoopbackAnyPort => new(IPAddress.Loopback, 0);
}
