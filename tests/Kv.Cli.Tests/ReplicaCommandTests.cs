using System.Text.Json;
using Kv.Cli.Output;
using Kv.Client.Contracts;
using Kv.Client.Rpc;
using Kv.Node.Tests.ClientReactions;
using Kv.Proto.V1;

namespace Kv.Cli.Tests;

/// <summary>kvctl replica add|remove|move against a scripted node: what is sent, what is printed, and how refusals exit.</summary>
public sealed class ReplicaCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvctl-replica-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = KvctlApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static RangeDescriptor Range(ulong confVer, params ulong[] stores) => new()
    {
        RangeId = 1,
        Epoch = new RangeEpoch { ConfVer = confVer, Version = 1 },
        Replicas = { stores.Select(s => new ReplicaDescriptor { ReplicaId = s * 10, StoreId = s }) },
    };

    [Fact]
    public async Task Add_remove_and_move_send_the_range_epoch_and_stores_and_print_the_resulting_descriptor()
    {
        await using var node = await ScriptedNode.StartAsync();
        var range = Range(1, 1, 2, 3);
        node.On(PlacementContract.GetRangeById, _ => new GetRangeResponse { Header = new ResponseHeader { ClusterId = "c" }, Range = new RangeInfo { Range = range, Leader = range.Replicas[0], LeaderAddress = node.Address } });
        node.On(AdminContract.AddReplica, _ => new AddReplicaResponse { Range = Range(3, 1, 2, 3, 4) });
        node.On(AdminContract.RemoveReplica, _ => new RemoveReplicaResponse { Range = Range(2, 1, 3) });
        node.On(AdminContract.MoveReplica, _ => new MoveReplicaResponse { Range = Range(4, 1, 2, 4) });
        string[] at = ["--endpoint", node.Address, "--context", Path.Combine(_dir, "absent.json")];

        var add = Run(["replica", "add", "--range", "1", "--store", "4", "-o", "json", .. at]);
        Assert.True(add.Code == ExitCodes.Ok, add.Stderr);
        using (var doc = JsonDocument.Parse(add.Stdout))
        {
            var r = doc.RootElement.GetProperty("range");
            Assert.Equal(3, r.GetProperty("epoch").GetProperty("confVer").GetInt32());
            Assert.Equal([1, 2, 3, 4], r.GetProperty("replicas").EnumerateArray().Select(x => x.GetProperty("storeId").GetInt32()));
        }

        var sent = node.Received(AdminContract.AddReplica).Single();
        Assert.Equal(4ul, sent.StoreId);
        Assert.Equal(1ul, sent.Context.RangeId);
        Assert.Equal(1ul, sent.Context.Epoch.ConfVer);

        var remove = Run(["replica", "remove", "--range", "1", "--store", "2", "-o", "yaml", .. at]);
        Assert.True(remove.Code == ExitCodes.Ok, remove.Stderr);
        Assert.Contains("confVer: 2", remove.Stdout, StringComparison.Ordinal);
        Assert.Equal(2ul, node.Received(AdminContract.RemoveReplica).Single().StoreId);

        var move = Run(["replica", "move", "--range", "1", "--from", "3", "--to", "4", .. at]);
        Assert.True(move.Code == ExitCodes.Ok, move.Stderr);
        Assert.Contains("on store 4", move.Stdout, StringComparison.Ordinal);
        var moveSent = node.Received(AdminContract.MoveReplica).Single();
        Assert.Equal((3ul, 4ul), (moveSent.FromStoreId, moveSent.ToStoreId));
    }

    [Fact]
    public async Task A_refusal_exits_2_with_the_nodes_reason_and_missing_options_are_usage_errors()
    {
        await using var node = await ScriptedNode.StartAsync();
        var range = Range(1, 1);
        node.On(PlacementContract.GetRangeById, _ => new GetRangeResponse { Header = new ResponseHeader { ClusterId = "c" }, Range = new RangeInfo { Range = range, Leader = range.Replicas[0], LeaderAddress = node.Address } });
        node.On<RemoveReplicaRequest, RemoveReplicaResponse>(AdminContract.RemoveReplica,
            _ => throw new RpcException(new Status(StatusCode.FailedPrecondition, "the replica on store 1 is range 1's last voter")));
        string[] at = ["--endpoint", node.Address, "--context", Path.Combine(_dir, "absent.json")];

        var refused = Run(["replica", "remove", "--range", "1", "--store", "1", .. at]);
        Assert.Equal(ExitCodes.RefusedUnsafe, refused.Code);
        Assert.Contains("last voter", refused.Stderr, StringComparison.Ordinal);
        Assert.Empty(refused.Stdout);

        Assert.Equal(ExitCodes.Usage, Run(["replica", "move", "--range", "1", "--from", "1", .. at]).Code);
        Assert.Equal(ExitCodes.Usage, Run(["replica", "add", "--store", "2", .. at]).Code);
    }

    [Fact]
    public void The_table_view_shows_epoch_and_replicas_with_roles()
    {
        var d = Range(5, 1, 2);
        d.Replicas[1].Role = ReplicaRole.Learner;
        var table = new StringWriter();
        Commands.ReplicaCommand.Write(table, OutputFormat.Table, d);
        Assert.Contains("v1/c5", table.ToString(), StringComparison.Ordinal);
        Assert.Contains("20 on store 2 (learner)", table.ToString(), StringComparison.Ordinal);
    }
}
