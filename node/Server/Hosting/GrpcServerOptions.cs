using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Server.Hosting;

/// <summary>Settings of a <see cref="GrpcServer"/>. Defaults follow gRPC's own servers.</summary>
public sealed class GrpcServerOptions
{
    /// <summary>Where to listen; port 0 picks a free port (see <see cref="GrpcServer.Port"/>).</summary>
    public IPEndPoint EndPoint { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>
    /// TLS when set (with its private key): HTTP/2 is negotiated by ALPN, and HTTP/1.1 clients
    /// get a clear 426 refusal. Without it the endpoint speaks cleartext HTTP/2 with prior
    /// knowledge only.
    /// </summary>
    public X509Certificate2? ServerCertificate { get; init; }

    /// <summary>Mutual TLS when set: every client must present a certificate chaining to this root.</summary>
    public X509Certificate2? ClientCertificateAuthority { get; init; }

    /// <summary>
    /// Secure mode (kv-node --tls-*): requires <see cref="ServerCertificate"/>; every connection
    /// must present a client certificate, and every call is checked by this authorizer (chain to
    /// the cluster CA, validity, role, cluster id) before it is routed. A plaintext connection is
    /// answered, call by call, with UNAUTHENTICATED and how to connect instead of a dropped
    /// connection. <see cref="ClientCertificateAuthority"/> is ignored when this is set.
    /// </summary>
    internal Security.CallAuthorizer? Authorization { get; init; }

    /// <summary>Largest request message accepted; larger ones end the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Largest response message sent; a larger one ends the call with RESOURCE_EXHAUSTED (null: no limit).</summary>
    public int? MaxSendMessageSize { get; init; }

    /// <summary>HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection.</summary>
    public int MaxConcurrentStreamsPerConnection { get; init; } = 100;

    /// <summary>
    /// HTTP/2 receive window of a connection (Kestrel's default is 1 MiB). Shared by every stream
    /// of the connection, so it bounds how much all of them together may have in flight.
    /// </summary>
    public int InitialConnectionWindowSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>HTTP/2 receive window of each stream (Kestrel's default is 768 KiB).</summary>
    public int InitialStreamWindowSize { get; init; } = 1024 * 1024;

    /// <summary>Idle time after which the server PINGs a client connection.</summary>
    public TimeSpan KeepAlivePingDelay { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a PING may go unanswered before the connection is closed.</summary>
    public TimeSpan KeepAlivePingTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Where server logs go (Kestrel's and Grpc.AspNetCore's); none by default.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    /// <summary>More Grpc.AspNetCore options, after the ones above (the node adds its RPC metrics interceptor here).</summary>
    public Action<Grpc.AspNetCore.Server.GrpcServiceOptions>? ConfigureGrpc { get; init; }
}
