using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Kv.Client.Cluster;
using Kv.Node.Server.Configuration;
using Kv.Node.Server.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Interop.Tests;

/// <summary>
/// A standard gRPC client (grpc-js, loading proto/ at runtime) calls a real kv-node: the node's
/// own kv.v1 services and the standard grpc.health.v1, as third-party tools and Kubernetes gRPC
/// probes do.
/// </summary>
public sealed class GrpcJsClientToRealNodeTests(RealNodeFixture node) : IClassFixture<RealNodeFixture>
{
    [Fact]
    public async Task RawKv_Get_reads_what_our_client_wrote()
    {
        var result = await NodePeer.RunScriptAsync("node-client.js", node.Target, "raw-get", [.. node.RangeArgs, "--key", RealNodeFixture.Key]);

        Assert.Equal(0, result.GetProperty("code").GetInt32());
        Assert.True(result.GetProperty("found").GetBoolean());
        Assert.Equal(RealNodeFixture.Value, result.GetProperty("value").GetString());
    }

    [Fact]
    public async Task RawKv_Get_with_a_stale_epoch_gets_the_typed_range_error()
    {
        string[] stale = ["--range-id", node.RangeArgs[1], "--conf-ver", node.RangeArgs[3], "--version", "0"];

        var result = await NodePeer.RunScriptAsync("node-client.js", node.Target, "raw-get", [.. stale, "--key", RealNodeFixture.Key]);

        Assert.Equal(0, result.GetProperty("code").GetInt32());
        Assert.False(result.GetProperty("found").GetBoolean());
        Assert.Equal(System.Text.Json.JsonValueKind.Object, result.GetProperty("error").GetProperty("epochNotMatch").ValueKind);
    }

    [Fact]
    public async Task RawKv_Get_without_a_range_context_is_INVALID_ARGUMENT()
    {
        var result = await NodePeer.RunScriptAsync("node-client.js", node.Target, "raw-get", ["--key", RealNodeFixture.Key]);

        Assert.Equal((int)Grpc.Core.StatusCode.InvalidArgument, result.GetProperty("code").GetInt32());
    }

    [Theory]
    [InlineData("")]
    [InlineData("kv.v1.RawKv")]
    [InlineData("kv.v1.TxnKv")]
    public async Task Health_Check_is_SERVING_on_a_bootstrapped_node(string service)
    {
        var result = await NodePeer.RunScriptAsync("node-client.js", node.Target, "health", "--service", service);

        Assert.Equal(0, result.GetProperty("code").GetInt32());
        Assert.Equal("SERVING", result.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Health_Check_of_an_unknown_service_is_NOT_FOUND()
    {
        var result = await NodePeer.RunScriptAsync("node-client.js", node.Target, "health", "--service", "no.Such");

        Assert.Equal((int)Grpc.Core.StatusCode.NotFound, result.GetProperty("code").GetInt32());
    }
}

/// <summary>
/// One real kv-node (NodeHost: RocksDB, Raft, Grpc.AspNetCore) on 127.0.0.1, a one-member
/// cluster bootstrapped through KvClient, holding one key written through KvClient.
/// </summary>
#pragma warning disable CA1001 // _host is disposed in IAsyncLifetime.DisposeAsync, which xunit always calls
public sealed class RealNodeFixture : IAsyncLifetime
#pragma warning restore CA1001
{
    public const string Key = "interop-key";
    public const string Value = "written by Kv.Client";

    private readonly string _dir = Directory.CreateTempSubdirectory("kv-interop-node-").FullName;
    private NodeHost? _host;

    /// <summary>host:port, as grpc-js targets are written.</summary>
    public string Target { get; private set; } = "";

    /// <summary>--range-id, --conf-ver and --version of the range holding <see cref="Key"/>.</summary>
    public string[] RangeArgs { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Target = $"127.0.0.1:{FreePort()}";
        var config = new NodeConfig
        {
            DataDir = Path.Combine(_dir, "n1"),
            Listen = Target,
            Join = [Target],
            TickIntervalMs = 20,
            StoreHeartbeatIntervalMs = 100,
            RangeSplitSizeMb = 0,
            RangeSplitQps = 0,
        };
        _host = new NodeHost(config, NullLoggerFactory.Instance);
        await _host.StartAsync(CancellationToken.None);

        // KvClient retries (with its deadline) until the cluster answers: no sleeps here.
        await using var client = KvClient.Connect([Target], new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(60) });
        await client.BootstrapAsync();
        await client.PutAsync(System.Text.Encoding.UTF8.GetBytes(Key), System.Text.Encoding.UTF8.GetBytes(Value));
        var range = (await client.ListRangesAsync()).Single().Range;
        RangeArgs =
        [
            "--range-id", range.RangeId.ToString(CultureInfo.InvariantCulture),
            "--conf-ver", range.Epoch.ConfVer.ToString(CultureInfo.InvariantCulture),
            "--version", range.Epoch.Version.ToString(CultureInfo.InvariantCulture),
        ];
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        Directory.Delete(_dir, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
