using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;

namespace Kv.Client.Transport;

/// <summary>
/// Builds the <see cref="GrpcChannel"/>s every caller uses (clients, kvctl, node-to-node
/// streams): cleartext HTTP/2 with prior knowledge for <c>http://</c> addresses, TLS with ALPN h2
/// for <c>https://</c>. A channel is thread-safe and holds a connection pool: create one per
/// server address and share it.
/// </summary>
public static class KvChannels
{
    /// <summary>A channel to <paramref name="address"/> (an absolute http:// or https:// URI).</summary>
    public static GrpcChannel Create(Uri address, KvChannelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!address.IsAbsoluteUri || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"channel address '{address}' must be an absolute http:// or https:// URI", nameof(address));
        }

        options ??= new KvChannelOptions();
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = options.HttpHandler ?? WithClusterId(CreateHandler(options), options.ClusterId),
            DisposeHttpClient = options.HttpHandler is null,
            MaxReceiveMessageSize = options.MaxReceiveMessageSize,
            MaxSendMessageSize = options.MaxSendMessageSize,
            // Retries are the callers' business: they know which calls are idempotent (KvClient,
            // PlacementCaller), and a transparent retry would hide an outcome-unknown commit.
            MaxRetryAttempts = 0,
        });
    }

    /// <summary>The header node-to-node calls carry their cluster id in (see <see cref="KvChannelOptions.ClusterId"/>).</summary>
    public const string ClusterIdHeader = "kv-cluster-id";

    /// <summary>A channel to a node's "host:port": https when the options configure TLS, else cleartext.</summary>
    public static GrpcChannel ForHostPort(string hostPort, KvChannelOptions? options = null) =>
        Create(new Uri($"{(options is { UsesTls: true } ? Uri.UriSchemeHttps : Uri.UriSchemeHttp)}://{hostPort}"), options);

    private static HttpMessageHandler WithClusterId(SocketsHttpHandler handler, Func<string>? clusterId) =>
        clusterId is null ? handler : new ClusterIdHandler(clusterId) { InnerHandler = handler };

    /// <summary>Adds the cluster id header to every request (HTTP/2 headers are what gRPC metadata is).</summary>
    private sealed class ClusterIdHandler(Func<string> clusterId) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var id = clusterId();
            if (id.Length > 0)
            {
                request.Headers.TryAddWithoutValidation(ClusterIdHeader, id);
            }

            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>
    /// The transport under every channel. EnableMultipleHttp2Connections: when a connection's
    /// concurrent-stream limit is reached another connection is opened, so calls queue only on
    /// the server's limits; keep-alive PINGs find a dead peer while calls wait on it.
    /// </summary>
    private static SocketsHttpHandler CreateHandler(KvChannelOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            InitialHttp2StreamWindowSize = options.InitialHttp2StreamWindowSize,
            KeepAlivePingDelay = options.KeepAlivePingDelay,
            KeepAlivePingTimeout = options.KeepAlivePingTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionIdleTimeout = options.PooledConnectionIdleTimeout,
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
        };

        if (options.ClientCertificate is { } clientCertificate)
        {
            handler.SslOptions.ClientCertificates = new X509CertificateCollection { clientCertificate };
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }

        if (options.ServerCertificateValidation is { } validate)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = validate;
        }
        else if (options.TrustedRoot is { } root)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                CertificateTrust.ChainsTo(root, certificate, chain, errors);
        }

        return handler;
    }
}
