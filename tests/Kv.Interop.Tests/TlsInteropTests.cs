using Kv.Client.Transport;
using Kv.Node.Server.Hosting;
using Kv.Node.Tests.Rpc;
using Kv.Proto.V1;

namespace Kv.Interop.Tests;

/// <summary>TLS with ALPN h2 against grpc-js, both directions, with a private CA.</summary>
#pragma warning disable CA1001 // _certs is disposed in IAsyncLifetime.DisposeAsync, which xunit always calls
public sealed class TlsInteropTests : IAsyncLifetime
#pragma warning restore CA1001
{
    private readonly TestCertificates _certs = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("kv-interop-tls-").FullName;
    private GrpcServer _ours = null!;
    private NodePeer _theirs = null!;
    private int _theirPort;

    private string CaPem => Path.Combine(_dir, "ca.pem");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(CaPem, TestCertificates.Pem(_certs.Authority));
        await File.WriteAllTextAsync(Path.Combine(_dir, "server.pem"), TestCertificates.Pem(_certs.Server));
        await File.WriteAllTextAsync(Path.Combine(_dir, "server.key"), TestCertificates.KeyPem(_certs.Server));
        _ours = await OurServerFixture.StartAsync(new EchoService(), new GrpcServerOptions { ServerCertificate = _certs.Server });
        _theirs = NodePeer.Start("server.js", "--tls", Path.Combine(_dir, "server.pem"), Path.Combine(_dir, "server.key"));
        var listening = await _theirs.WaitForLineAsync(l => l.StartsWith("LISTENING ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        _theirPort = int.Parse(listening["LISTENING ".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task DisposeAsync()
    {
        await _ours.DisposeAsync();
        await _theirs.DisposeAsync();
        _certs.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Grpc_js_client_calls_our_TLS_server()
    {
        var result = await NodePeer.RunClientAsync($"127.0.0.1:{_ours.Port}", "server-stream", "--tls", CaPem);

        Assert.Equal(5, result.GetProperty("indexes").GetArrayLength());
        Assert.Equal(0, result.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Our_client_calls_the_grpc_js_TLS_server()
    {
        using var channel = KvChannels.Create(new Uri($"https://127.0.0.1:{_theirPort}"), new KvChannelOptions { TrustedRoot = _certs.Authority });

        var response = await new Echo.EchoClient(channel).UnaryAsync(new EchoRequest { Message = "tls interop" });

        Assert.Equal("tls interop", response.Message);
    }
}
