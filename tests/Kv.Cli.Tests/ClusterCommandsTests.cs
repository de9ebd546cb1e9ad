using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Google.Protobuf;
using Kv.Cli.Commands;
using Kv.Cli.Context;
using Kv.Cli.Output;
using Kv.Client.Cluster;
using Kv.Node.Tests.ClientReactions;
using Kv.Proto.V1;
using RangeCommand = Kv.Cli.Commands.RangeCommand;

namespace Kv.Cli.Tests;

/// <summary>
/// kvctl's cluster commands: exit codes (STYLE.md), where they connect (--endpoint, else the
/// context file), and the JSON/YAML documents they print, against scripted nodes on real sockets.
/// </summary>
public sealed class ClusterCommandsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvctl-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string NoContext => Path.Combine(_dir, "absent.json");

    private static string ClosedEndpoint()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = KvctlApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("cluster", "status")]
    [InlineData("store", "list")]
    [InlineData("range", "list")]
    [InlineData("kv", "get", "k")]
    [InlineData("kv", "put", "k", "v")]
    [InlineData("kv", "scan", "a", "")]
    public void No_context_and_no_endpoint_is_unavailable_with_what_to_do(params string[] args)
    {
        var (code, _, stderr) = Run([.. args, "--context", NoContext]);
        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains("no cluster: run `kvctl local up` or pass --endpoint host:port", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unreachable_cluster_exits_5_with_the_clients_message()
    {
        var endpoint = ClosedEndpoint();
        var (code, stdout, stderr) = Run("store", "list", "--endpoint", endpoint, "--timeout", "0.5", "--context", NoContext);
        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains($"tried {endpoint}", stderr, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }

    [Fact]
    public void The_context_file_is_used_without_flags_and_endpoint_overrides_it()
    {
        var inContext = ClosedEndpoint();
        var path = Path.Combine(_dir, "ctx.json");
        KvctlContext.Save(path, new KvctlContext { Endpoints = [inContext] });

        var (code, _, stderr) = Run("cluster", "status", "--context", path, "--timeout", "0.3");
        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains(inContext, stderr, StringComparison.Ordinal);

        var flag = ClosedEndpoint();
        (code, _, stderr) = Run("cluster", "status", "--context", path, "--timeout", "0.3", "--endpoint", flag);
        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains(flag, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(inContext, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_broken_context_file_is_an_error_naming_the_file()
    {
        var path = Path.Combine(_dir, "broken.json");
        File.WriteAllText(path, "{ not json");
        var (code, _, stderr) = Run("range", "list", "--context", path);
        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains(path, stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("range", "show", "abc")]
    [InlineData("range", "show")]
    [InlineData("kv", "scan", "a")]
    [InlineData("kv", "get")]
    [InlineData("kv", "get", "zz", "--hex", "--endpoint", "127.0.0.1:1")]
    [InlineData("kv", "get", "", "--endpoint", "127.0.0.1:1")]
    [InlineData("kv", "scan", "a", "b", "--limit", "-1", "--endpoint", "127.0.0.1:1")]
    [InlineData("kv", "get", "k", "--endpoint", "not-an-endpoint")]
    [InlineData("kv", "get", "k", "--endpoint", "127.0.0.1:1", "--timeout", "0")]
    [InlineData("store", "list", "-o", "xml")]
    [InlineData("range", "split")]
    [InlineData("range", "split", "--key", "", "--endpoint", "127.0.0.1:1")]
    [InlineData("range", "split", "--key", "zz", "--hex", "--endpoint", "127.0.0.1:1")]
    [InlineData("range", "split", "--key", "m", "--range", "x", "--endpoint", "127.0.0.1:1")]
    public void Bad_arguments_are_usage_errors_with_a_message(params string[] args)
    {
        var (code, _, stderr) = Run(args);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.StartsWith("error:", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Client_error_kinds_map_to_the_documented_exit_codes()
    {
        Assert.Equal(ExitCodes.Unavailable, ClusterConnection.ExitCodeOf(KvErrorKind.Unavailable));
        Assert.Equal(ExitCodes.NotFound, ClusterConnection.ExitCodeOf(KvErrorKind.NotFound));
        Assert.Equal(ExitCodes.Usage, ClusterConnection.ExitCodeOf(KvErrorKind.InvalidArgument));
        Assert.Equal(ExitCodes.RefusedUnsafe, ClusterConnection.ExitCodeOf(KvErrorKind.Refused));
        Assert.Equal(ExitCodes.Failed, ClusterConnection.ExitCodeOf(KvErrorKind.NotBootstrapped));
        Assert.Equal(ExitCodes.Failed, ClusterConnection.ExitCodeOf(KvErrorKind.Internal));
    }

    [Theory]
    [InlineData(new byte[] { 0x68, 0x69 }, "hi")]
    [InlineData(new byte[] { 0xe2, 0x82, 0xac }, "€")]
    [InlineData(new byte[] { 0xff, 0x00 }, "0xff00")]
    [InlineData(new byte[] { 0x61, 0x0a }, "0x610a")]
    [InlineData(new byte[] { 0x30, 0x78, 0x31 }, "0x307831")] // the text "0x1" would read as hex
    [InlineData(new byte[0], "")]
    public void Keys_print_as_utf8_when_printable_else_hex(byte[] bytes, string expected) =>
        Assert.Equal(expected, KeyText.Printable(bytes));

    [Fact]
    public void Cluster_status_json_is_a_versioned_document()
    {
        var info = new GetClusterInfoResponse
        {
            Header = new ResponseHeader { ClusterId = "abc" },
            Bootstrapped = true,
            BootstrappedAtMs = 1_700_000_000_000,
            Members = { new PlacementMember { MemberId = 1, Address = "n1:1" }, new PlacementMember { MemberId = 2, Address = "n2:1" } },
            Leader = new PlacementMember { MemberId = 2, Address = "n2:1" },
            StoreCount = 3,
            StoresUp = 2,
            RangeCount = 5,
        };
        var stdout = new StringWriter();
        ClusterCommand.WriteStatus(stdout, OutputFormat.Json, info, null);
        using var doc = JsonDocument.Parse(stdout.ToString());
        var root = doc.RootElement;
        Assert.Equal("kvctl/v1", root.GetProperty("apiVersion").GetString());
        Assert.Equal("ClusterStatus", root.GetProperty("kind").GetString());
        Assert.Equal("abc", root.GetProperty("clusterId").GetString());
        Assert.True(root.GetProperty("bootstrapped").GetBoolean());
        Assert.Equal("2023-11-14T22:13:20.000Z", root.GetProperty("bootstrappedAt").GetString());
        Assert.Equal("n2:1", root.GetProperty("placement").GetProperty("leader").GetProperty("address").GetString());
        Assert.Equal(2, root.GetProperty("placement").GetProperty("members").GetArrayLength());
        Assert.Equal(2, root.GetProperty("stores").GetProperty("up").GetInt32());
        Assert.Equal(3, root.GetProperty("stores").GetProperty("total").GetInt32());
        Assert.Equal(5, root.GetProperty("ranges").GetInt32());

        var table = new StringWriter();
        ClusterCommand.WriteStatus(table, OutputFormat.Table, info, null);
        Assert.Contains("2/3", table.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Range_list_json_and_yaml_show_printable_keys_epochs_replicas_and_leader()
    {
        var d = new RangeDescriptor
        {
            RangeId = 7,
            StartKey = ByteString.CopyFromUtf8("m"),
            EndKey = ByteString.CopyFrom(0xff, 0x01),
            Epoch = new RangeEpoch { ConfVer = 3, Version = 4 },
            Replicas = { new ReplicaDescriptor { ReplicaId = 71, StoreId = 1 }, new ReplicaDescriptor { ReplicaId = 72, StoreId = 2, Role = ReplicaRole.Learner } },
        };
        var ranges = new[] { new RangeInfo { Range = d, Leader = d.Replicas[0], LeaderAddress = "n1:1" } };

        var json = new StringWriter();
        RangeCommand.WriteList(json, OutputFormat.Json, ranges);
        using var doc = JsonDocument.Parse(json.ToString());
        Assert.Equal("RangeList", doc.RootElement.GetProperty("kind").GetString());
        var item = doc.RootElement.GetProperty("items")[0];
        Assert.Equal(7, item.GetProperty("id").GetInt32());
        Assert.Equal("m", item.GetProperty("startKey").GetString());
        Assert.Equal("0xff01", item.GetProperty("endKey").GetString());
        Assert.Equal(4, item.GetProperty("epoch").GetProperty("version").GetInt32());
        Assert.Equal(3, item.GetProperty("epoch").GetProperty("confVer").GetInt32());
        Assert.Equal("learner", item.GetProperty("replicas")[1].GetProperty("role").GetString());
        Assert.Equal(1, item.GetProperty("leader").GetProperty("storeId").GetInt32());

        var yaml = new StringWriter();
        RangeCommand.WriteList(yaml, OutputFormat.Yaml, ranges);
        Assert.Contains("apiVersion: kvctl/v1", yaml.ToString(), StringComparison.Ordinal);

        var table = new StringWriter();
        RangeCommand.WriteList(table, OutputFormat.Table, ranges);
        Assert.StartsWith("ID", table.ToString(), StringComparison.Ordinal);
        Assert.Contains("0xff01", table.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Store_list_json_has_state_load_and_heartbeat()
    {
        var stores = new[]
        {
            new StoreInfo
            {
                Store = new StoreDescriptor { StoreId = 2, Address = "n2:1", Version = "0.1.0" },
                State = StoreState.Down,
                Stats = new StoreStats { RangeCount = 4, LeaderCount = 1, UsedBytes = 2048, CapacityBytes = 1 << 30 },
                LastHeartbeatMs = 1_700_000_000_000,
            },
        };
        var json = new StringWriter();
        StoreCommand.WriteList(json, OutputFormat.Json, stores);
        using var doc = JsonDocument.Parse(json.ToString());
        var item = doc.RootElement.GetProperty("items")[0];
        Assert.Equal("StoreList", doc.RootElement.GetProperty("kind").GetString());
        Assert.Equal("down", item.GetProperty("state").GetString());
        Assert.Equal(4, item.GetProperty("ranges").GetInt32());
        Assert.Equal(2048, item.GetProperty("usedBytes").GetInt64());
        Assert.Equal("2023-11-14T22:13:20.000Z", item.GetProperty("lastHeartbeat").GetString());

        var table = new StringWriter();
        StoreCommand.WriteList(table, OutputFormat.Table, stores);
        Assert.Contains("2.0 KiB/1.0 GiB", table.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Store_list_shows_each_stores_admin_state_and_its_drain()
    {
        var stores = new[]
        {
            new StoreInfo { Store = new StoreDescriptor { StoreId = 1, Address = "n1:1" }, State = StoreState.Up, Stats = new StoreStats() },
            new StoreInfo { Store = new StoreDescriptor { StoreId = 2, Address = "n2:1" }, State = StoreState.Up, Stats = new StoreStats() },
            new StoreInfo { Store = new StoreDescriptor { StoreId = 3, Address = "n3:1" }, State = StoreState.Up, Stats = new StoreStats() },
        };
        var admin = new Dictionary<ulong, Kv.Client.Views.StoreView>
        {
            [1] = Kv.Client.Views.StoreView.From(new StoreStatus { Store = stores[0].Store, AdminState = StoreAdminState.Active }),
            [2] = Kv.Client.Views.StoreView.From(new StoreStatus { Store = stores[1].Store, AdminState = StoreAdminState.Draining, DrainOperationId = "drain-2" }),
        };

        var json = new StringWriter();
        StoreCommand.WriteList(json, OutputFormat.Json, stores, admin);
        using var doc = JsonDocument.Parse(json.ToString());
        var items = doc.RootElement.GetProperty("items");
        Assert.Equal("active", items[0].GetProperty("adminState").GetString());
        Assert.Equal("draining", items[1].GetProperty("adminState").GetString());
        Assert.Equal("drain-2", items[1].GetProperty("drainOperation").GetString());
        Assert.False(items[2].TryGetProperty("adminState", out var none) && none.ValueKind != JsonValueKind.Null);

        var table = new StringWriter();
        StoreCommand.WriteList(table, OutputFormat.Table, stores, admin);
        var lines = table.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("ADMIN", lines[0], StringComparison.Ordinal);
        Assert.Contains("active", lines[1], StringComparison.Ordinal);
        Assert.Contains("draining (drain-2)", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kv_commands_against_a_node_get_put_scan_and_report_a_missing_key_as_4()
    {
        await using var node = await ScriptedNode.StartAsync();
        FakeTxnKv.Install(node);
        string[] at = ["--endpoint", node.Address, "--context", NoContext];

        var put = Run(["kv", "put", "k1", "v1", .. at]);
        Assert.True(put.Code == ExitCodes.Ok, put.Stderr);
        put = Run(["kv", "put", "6b32", "ff00", "--hex", .. at]);
        Assert.True(put.Code == ExitCodes.Ok, put.Stderr);
        Assert.Equal("v1", Run(["kv", "get", "k1", .. at]).Stdout.Trim());
        Assert.Equal("0xff00", Run(["kv", "get", "k2", .. at]).Stdout.Trim());

        var missing = Run(["kv", "get", "nope", .. at]);
        Assert.Equal(ExitCodes.NotFound, missing.Code);
        Assert.Contains("key not found", missing.Stderr, StringComparison.Ordinal);

        var scan = Run(["kv", "scan", "", "", "--reverse", "-o", "json", .. at]);
        Assert.True(scan.Code == ExitCodes.Ok, scan.Stderr);
        using (var doc = JsonDocument.Parse(scan.Stdout))
        {
            Assert.Equal("KvPairList", doc.RootElement.GetProperty("kind").GetString());
            var items = doc.RootElement.GetProperty("items");
            Assert.Equal(["k2", "k1"], items.EnumerateArray().Select(i => i.GetProperty("key").GetString()));
            Assert.Equal("0xff00", items[0].GetProperty("value").GetString());
        }

        Assert.Equal(ExitCodes.Ok, Run(["kv", "delete", "k1", .. at]).Code);
        Assert.Equal(ExitCodes.NotFound, Run(["kv", "get", "k1", .. at]).Code);

        var get = Run(["kv", "get", "k2", "-o", "json", .. at]);
        using (var doc = JsonDocument.Parse(get.Stdout))
        {
            Assert.Equal("kvctl/v1", doc.RootElement.GetProperty("apiVersion").GetString());
            Assert.Equal("k2", doc.RootElement.GetProperty("key").GetString());
        }
    }

    [Fact]
    public async Task Bootstrap_exits_0_once_then_1_with_the_cluster_id_and_status_shows_an_unbootstrapped_cluster()
    {
        await using var node = await ScriptedNode.StartAsync();
        var bootstrapped = false;
        node.On(PlacementMethods.GetClusterInfo, _ => bootstrapped
            ? new GetClusterInfoResponse { Header = new ResponseHeader { ClusterId = "id42" }, Bootstrapped = true, RangeCount = 1 }
            : new GetClusterInfoResponse { Header = new ResponseHeader { Error = new PlacementError { Code = PlacementErrorCode.PlacementErrorNotBootstrapped } } });
        node.On(PlacementMethods.Bootstrap, _ =>
        {
            if (bootstrapped)
            {
                return new BootstrapResponse { Header = new ResponseHeader { ClusterId = "id42", Error = new PlacementError { Code = PlacementErrorCode.PlacementErrorAlreadyBootstrapped } } };
            }

            bootstrapped = true;
            return new BootstrapResponse { Header = new ResponseHeader { ClusterId = "id42" }, FirstRange = new RangeDescriptor { RangeId = 1 } };
        });
        node.On(PlacementMethods.GetRangeById, _ => new GetRangeResponse { Header = new ResponseHeader { Error = new PlacementError { Code = PlacementErrorCode.PlacementErrorNotFound, Message = "no such range" } } });
        string[] at = ["--endpoint", node.Address, "--context", NoContext];

        var before = Run(["cluster", "status", "-o", "json", .. at]);
        Assert.Equal(ExitCodes.Ok, before.Code);
        using (var doc = JsonDocument.Parse(before.Stdout))
        {
            Assert.False(doc.RootElement.GetProperty("bootstrapped").GetBoolean());
        }

        var first = Run(["cluster", "bootstrap", .. at]);
        Assert.Equal(ExitCodes.Ok, first.Code);
        Assert.Contains("id42", first.Stdout, StringComparison.Ordinal);

        var second = Run(["cluster", "bootstrap", .. at]);
        Assert.Equal(ExitCodes.Failed, second.Code);
        Assert.Contains("already bootstrapped (cluster id id42)", second.Stderr, StringComparison.Ordinal);

        var status = Run(["cluster", "status", .. at]);
        Assert.Contains("id42", status.Stdout, StringComparison.Ordinal);

        var show = Run(["range", "show", "9", .. at]);
        Assert.Equal(ExitCodes.NotFound, show.Code);
        Assert.Contains("range 9 not found", show.Stderr, StringComparison.Ordinal);
    }
}
