using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;

namespace Kv.Client.Rpc.Http;

/// <summary>
/// A gRPC channel over HTTP/2 (SocketsHttpHandler): cleartext with prior knowledge for
/// <c>http://</c> addresses, TLS with ALPN h2 for <c>https://</c>. Thread-safe; create one per
/// server address and share it. Connections are reused, and when a connection's
/// concurrent-stream limit is reached another connection is opened
/// (EnableMultipleHttp2Connections), so calls queue only on the server's limits.
/// </summary>
public sealed class RpcChannel : ICallInvoker, IDisposable
{
    private readonly HttpMessageInvoker _invoker;
    private readonly ConcurrentDictionary<string, Uri> _uris = new(StringComparer.Ordinal);

    public RpcChannel(Uri address, RpcChannelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!address.IsAbsoluteUri || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"channel address '{address}' must be an absolute http:// or https:// URI", nameof(address));
        }

        Address = address;
        Options = options ?? new RpcChannelOptions();
        _invoker = Options.HttpHandler is { } handler
            ? new HttpMessageInvoker(handler, disposeHandler: false)
            : new HttpMessageInvoker(CreateHandler(Options), disposeHandler: true);
    }

    /// <summary>The server this channel talks to.</summary>
    public Uri Address { get; }

    internal RpcChannelOptions Options { get; }

    internal HttpMessageInvoker Invoker => _invoker;

    public Task<TResponse> UnaryAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions options = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        return new HttpClientCall<TRequest, TResponse>(this, method, options).UnaryAsync(request);
    }

    public AsyncServerStreamingCall<TResponse> ServerStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions options = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        var call = new HttpClientCall<TRequest, TResponse>(this, method, options);
        call.StartServerStreaming(request);
        return new AsyncServerStreamingCall<TResponse>(call);
    }

    public AsyncClientStreamingCall<TRequest, TResponse> ClientStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        var call = new HttpClientCall<TRequest, TResponse>(this, method, options);
        call.StartStreaming();
        return new AsyncClientStreamingCall<TRequest, TResponse>(call);
    }

    public AsyncDuplexStreamingCall<TRequest, TResponse> DuplexStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        var call = new HttpClientCall<TRequest, TResponse>(this, method, options);
        call.StartStreaming();
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(call);
    }

    public void Dispose() => _invoker.Dispose();

    /// <summary>The request URI of a method, parsed once per channel.</summary>
    internal Uri GetUri(IMethod method) =>
        _uris.GetOrAdd(method.FullName, static (path, address) => new Uri(address, path), Address);

    private static SocketsHttpHandler CreateHandler(RpcChannelOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = options.KeepAlivePingDelay,
            KeepAlivePingTimeout = options.KeepAlivePingTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
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
