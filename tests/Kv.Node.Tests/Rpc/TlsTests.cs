using System.Net;
using Kv.Client.Contracts;
using Kv.Client.Rpc;
using Kv.Client.Rpc.Http;
using Kv.Node.Server.Rpc;
using Kv.Node.Server.Services;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Rpc;

/// <summary>TLS with ALPN h2, and mutual TLS, between our client and our server.</summary>
#pragma warning disable CA1001 // _certs is disposed in IAsyncLifetime.DisposeAsync, which xunit always calls
public sealed class TlsTests : IAsyncLifetime
#pragma warning restore CA1001
{
    private readonly TestCertificates _certs = new();
    private RpcServer _tls = null!;
    private RpcServer _mutual = null!;

    public async Task InitializeAsync()
    {
        var echo = new EchoService();
        _tls = await RpcServer.StartAsync(new RpcServerOptions { ServerCertificate = _certs.Server }, [echo.BindService()]);
        _mutual = await RpcServer.StartAsync(
            new RpcServerOptions { ServerCertificate = _certs.Server, ClientCertificateAuthority = _certs.Authority },
            [echo.BindService()]);
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
        using var channel = new RpcChannel(Https(_tls), new RpcChannelOptions { TrustedRoot = _certs.Authority });

        var response = await new EchoClient(channel).UnaryAsync(new EchoRequest { Message = "over tls" });

        Assert.Equal("over tls", response.Message);
    }

    [Fact]
    public async Task TLS_call_to_a_server_from_another_CA_is_UNAVAILABLE()
    {
        using var otherCa = new TestCertificates("some other CA");
        using var channel = new RpcChannel(Https(_tls), new RpcChannelOptions { TrustedRoot = otherCa.Authority });

        var ex = await Assert.ThrowsAsync<RpcException>(() => new EchoClient(channel).UnaryAsync(new EchoRequest()));

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task Mutual_TLS_call_with_a_client_certificate_succeeds()
    {
        using var channel = new RpcChannel(Https(_mutual), new RpcChannelOptions { TrustedRoot = _certs.Authority, ClientCertificate = _certs.Client });
        var client = new EchoClient(channel);

        using var call = client.Bidi();
        await call.RequestStream.WriteAsync(new EchoRequest { Message = "mtls" });
        Assert.True(await call.ResponseStream.MoveNextAsync());
        await call.RequestStream.CompleteAsync();

        Assert.Equal("mtls", call.ResponseStream.Current.Message);
        Assert.False(await call.ResponseStream.MoveNextAsync());
    }

    [Fact]
    public async Task Mutual_TLS_without_a_client_certificate_is_refused()
    {
        using var channel = new RpcChannel(Https(_mutual), new RpcChannelOptions { TrustedRoot = _certs.Authority });

        var ex = await Assert.ThrowsAsync<RpcException>(() => new EchoClient(channel).UnaryAsync(new EchoRequest()));

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task Mutual_TLS_with_a_client_certificate_from_another_CA_is_refused()
    {
        using var otherCa = new TestCertificates("some other CA");
        using var channel = new RpcChannel(Https(_mutual), new RpcChannelOptions { TrustedRoot = _certs.Authority, ClientCertificate = otherCa.Client });

        var ex = await Assert.ThrowsAsync<RpcException>(() => new EchoClient(channel).UnaryAsync(new EchoRequest()));

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
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
        Assert.Contains("HTTP/2", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static Uri Https(RpcServer server) => new($"https://127.0.0.1:{server.Port}");
}
