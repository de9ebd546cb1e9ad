using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Kv.Client.Rpc.Http;

/// <summary>Settings of an <see cref="RpcChannel"/>. Defaults follow gRPC's own clients.</summary>
public sealed class RpcChannelOptions
{
    /// <summary>Largest response message accepted; larger ones end the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; init; } = Wire.GrpcProtocol.DefaultMaxReceiveMessageSize;

    /// <summary>Largest request message sent; larger ones fail with RESOURCE_EXHAUSTED before sending.</summary>
    public int MaxSendMessageSize { get; init; } = int.MaxValue;

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

    /// <summary>
    /// A handler to send through instead of the channel's own SocketsHttpHandler (tests,
    /// instrumentation). The channel does not dispose it; the TLS and keep-alive settings
    /// above do not apply to it.
    /// </summary>
    public HttpMessageHandler? HttpHandler { get; init; }
}
