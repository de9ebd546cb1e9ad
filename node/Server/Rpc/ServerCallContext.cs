using System.Security.Cryptography.X509Certificates;
using Kv.Client.Rpc;

namespace Kv.Node.Server.Rpc;

/// <summary>What a handler knows about its call, and how it shapes the call's ending.</summary>
public abstract class ServerCallContext
{
    private protected ServerCallContext()
    {
    }

    /// <summary>The full method name, for example <c>/kv.v1.Echo/Unary</c>.</summary>
    public abstract string Method { get; }

    /// <summary>The client's address, for example <c>ipv4:127.0.0.1:51234</c>.</summary>
    public abstract string Peer { get; }

    /// <summary>The call's deadline (UTC) from <c>grpc-timeout</c>; <see cref="DateTime.MaxValue"/> when none.</summary>
    public abstract DateTime Deadline { get; }

    /// <summary>Custom request headers (protocol headers excluded).</summary>
    public abstract Metadata RequestHeaders { get; }

    /// <summary>Fires when the client cancels, the deadline passes or the connection drops.</summary>
    public abstract CancellationToken CancellationToken { get; }

    /// <summary>
    /// Whether <see cref="CancellationToken"/> fired because the deadline passed (not because the
    /// client left). Decided by the server's deadline timer, never by comparing clocks: the timer
    /// may fire a moment before the clock reaches <see cref="Deadline"/>.
    /// </summary>
    public abstract bool DeadlineExceeded { get; }

    /// <summary>Custom trailers sent with the status.</summary>
    public abstract Metadata ResponseTrailers { get; }

    /// <summary>The status the call ends with when the handler returns normally (OK by default).</summary>
    public abstract Status Status { get; set; }

    /// <summary>The client's certificate under mutual TLS; null otherwise.</summary>
    public abstract X509Certificate2? ClientCertificate { get; }

    /// <summary>Sends response headers now (at most once, before the first message).</summary>
    public abstract Task WriteResponseHeadersAsync(Metadata responseHeaders);
}
