using System.Net;
using Grpc.Core;
using Kv.Client.Transport;
using Kv.Node.Server.Hosting;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Rpc;

/// <summary>TLS with ALPN h2, and mutual TLS, between Grpc.Net.Client (our channel settings) and the node's Grpc.AspNetCore server.</summary>
#pragma warning disable CA1001 // _certs is disposed in IAsyncLifetime.DisposeAsync, which xunit always calls
public sealed class TlsTests : IAsyncLifetime
#pragma warning restore CA1001
{
    private readonly TestCertificates _certs = new();
    private GrpcServer _tls = null!;
    private GrpcServer _mutual = null!;

    public async Task InitializeAsync()
    {
        var echo = new EchoService();
        _tls = await EchoServerFixture.StartAsync(echo, new GrpcServerOptions { ServerCertificate = _certs.Server });
        _mutual = await EchoServerFixture.StartAsync(echo, new GrpcServerOptions { ServerCertificate = _certs.Server, ClientCertificateAuthority = _certs.Authority });
    }

    public async Task DisposeAsync()
    {
        await _tls.DisposeAsync();
        await _mutual.DisposeAsync();
        _certs.Dispose();
    }

    [Fact]
    public async Task TLS_call_succeeds_when_the_server_chains_to_the_trusted_root()
    {
        using var channel = KvChannels.Create(Https(_tls), new KvChannelOptions { TrustedRoot = _certs.Authority });

        var response = await new Echo.EchoClient(channel).UnaryAsync(new EchoRequest { Message = "over tls" });

        Assert.Equal("over tls", response.Message);
    }

    [Fact]
    public async Task TLS_call_to_a_server_from_another_CA_is_UNAVAILABLE()
    {
        using var otherCa = new TestCertificates("some other CA");
        using var channel = KvChannels.Create(Https(_tls), new KvChannelOptions { TrustedRoot = otherCa.Authority });

        var ex = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(channel).UnaryAsync(new EchoRequest()).ResponseAsync);

        // Changed with the move to Grpc.Net.Client: the old client reported a failed TLS handshake
        // as UNAVAILABLE; Grpc.Net.Client reports INTERNAL with the handshake error as detail. A
        // certificate problem is not transient, so KvClient now fails at once instead of retrying.
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Contains("SSL", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mutual_TLS_call_with_a_client_certificate_succeeds()
    {
        using var channel = KvChannels.Create(Https(_mutual), new KvChannelOptions { TrustedRoot = _certs.Authority, ClientCertificate = _certs.Client });
        var client = new Echo.EchoClient(channel);

        using var call = client.Bidi();
        await call.RequestStream.WriteAsync(new EchoRequest { Message = "mtls" });
        Assert.True(await call.ResponseStream.MoveNext());
        await call.RequestStream.CompleteAsync();

        Assert.Equal("mtls", call.ResponseStream.Current.Message);
        Assert.False(await call.ResponseStream.MoveNext());
    }

    [Fact]
    public async Task Mutual_TLS_without_a_client_certificate_is_refused()
    {
        using var channel = KvChannels.Create(Https(_mutual), new KvChannelOptions { TrustedRoot = _certs.Authority });

        var ex = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(channel).UnaryAsync(new EchoRequest()).ResponseAsync);

        // Refused either way; which status depends on when the client learns it: a handshake the
        // server aborts is INTERNAL in Grpc.Net.Client, a connection the server closes right after
        // the handshake (TLS 1.3 checks the client certificate then) is UNAVAILABLE. The old client
        // said UNAVAILABLE for both.
        Assert.True(ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{ex.StatusCode}: {ex.Status.Detail}");
    }

    [Fact]
    public async Task Mutual_TLS_with_a_client_certificate_from_another_CA_is_refused()
    {
        using var otherCa = new TestCertificates("some other CA");
        using var channel = KvChannels.Create(Https(_mutual), new KvChannelOptions { TrustedRoot = _certs.Authority, ClientCertificate = otherCa.Client });

        var ex = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(channel).UnaryAsync(new EchoRequest()).ResponseAsync);

        // Refused either way; which status depends on when the client learns it: a handshake the
        // server aborts is INTERNAL in Grpc.Net.Client, a connection the server closes right after
        // the handshake (TLS 1.3 checks the client certificate then) is UNAVAILABLE. The old client
        // said UNAVAILABLE for both.
        Assert.True(ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{ex.StatusCode}: {ex.Status.Detail}");
    }

    [Fact]
    public async Task HTTP_1_1_over_TLS_gets_426_with_a_reason()
    {
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, chain, errors) => CertificateTrust.ChainsTo(_certs.Authority, cert, chain, errors);
        using var http = new HttpClient(handler);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Https(_tls), "/kv.v1.Echo/Unary"))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(RawGrpc.Frame([])),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
        // Grpc.AspNetCore gives the reason in grpc-message (the old stack wrote it in the body).
        Assert.Contains("HTTP/1.1", string.Join(",", response.Headers.GetValues("grpc-message")), StringComparison.Ordinal);
    }

    private static Uri Https(GrpcServer server) => new($"https://127.0.0.1:{server.Port}");
}
