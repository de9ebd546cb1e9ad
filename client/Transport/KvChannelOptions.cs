using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Kv.Client.Transport;

/// <summary>
/// Settings of the channels <see cref="KvChannels"/> builds. Defaults follow gRPC's own clients
/// (4 MiB receive limit, no send limit); the HTTP/2 settings are tuned for many concurrent calls
/// to few servers (a client talks to a handful of nodes, each over several connections).
/// </summary>
public sealed record KvChannelOptions
{
    /// <summary>Largest response message accepted; larger ones end the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Largest request message sent; larger ones fail with RESOURCE_EXHAUSTED before sending.</summary>
    public int? MaxSendMessageSize { get; init; }

    /// <summary>Presented to the server for mutual TLS (must include its private key).</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>
    /// When set, the server's certificate must chain to this root (a private CA), and the system
    /// trust store is not consulted. The host name must still match.
    /// </summary>
    public X509Certificate2? TrustedRoot { get; init; }

    /// <summary>Full control over server certificate validation; overrides <see cref="TrustedRoot"/>.</summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; init; }

    /// <summary>Idle time on a connection with active calls before an HTTP/2 PING checks it is alive.</summary>
    public TimeSpan KeepAlivePingDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a keep-alive PING may go unanswered before the connection is dropped.</summary>
    public TimeSpan KeepAlivePingTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Limit on establishing a connection (TCP and TLS).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an unused pooled connection stays open.</summary>
    public TimeSpan PooledConnectionIdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// HTTP/2 receive window of each stream (SocketsHttpHandler's default is 64 KiB). A larger
    /// window lets a large response (a scan, a snapshot answer) arrive without waiting for
    /// WINDOW_UPDATEs on every 64 KiB.
    /// </summary>
    public int InitialHttp2StreamWindowSize { get; init; } = 1024 * 1024;

    /// <summary>
    /// A handler to send through instead of the channel's own SocketsHttpHandler (tests,
    /// instrumentation). The channel does not dispose it; the TLS and HTTP/2 settings above do
    /// not apply to it.
    /// </summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>
    /// When set, every call carries the value as the <c>kv-cluster-id</c> header (<see cref="KvChannels.ClusterIdHeader"/>):
    /// node-to-node channels set it so a secure peer can refuse a stream from another cluster that
    /// shares its CA. An empty value (the node has not learned its cluster yet) sends no header.
    /// </summary>
    public Func<string>? ClusterId { get; init; }

    /// <summary>
    /// Mutual TLS options from files: the CA certificate the nodes chain to, and this caller's
    /// certificate and private key (PEM, as <c>kvctl cert</c> writes them). Throws
    /// <see cref="Kv.Client.Security.KvCertificateException"/> naming a file that cannot be used.
    /// </summary>
    public static KvChannelOptions MutualTls(string caCertificatePath, string certificatePath, string keyPath)
    {
        var root = Kv.Client.Security.KvCertificates.LoadCertificate(caCertificatePath);
        try
        {
            return new KvChannelOptions { TrustedRoot = root, ClientCertificate = Kv.Client.Security.KvCertificates.LoadWithKey(certificatePath, keyPath) };
        }
        catch
        {
            root.Dispose();
            throw;
        }
    }

    /// <summary>True when the options configure TLS: addresses given as host:port are then dialled over https.</summary>
    public bool UsesTls => TrustedRoot is not null || ClientCertificate is not null || ServerCertificateValidation is not null;
}
