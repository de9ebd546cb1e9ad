using System.Text.Json;
using Kv.Client;
using Kv.Node.Tests.ClientReactions;
using Kv.Proto.V1;

namespace Kv.Cli.Tests;

/// <summary>
/// kvctl replica add|remove|move and range transfer-leader submit operations and wait with progress
/// (against a scripted node): what is sent, what is printed, and how outcomes and refusals exit.
/// (The synchronous Admin range RPCs they once called no longer exist in admin.proto.)
/// </summary>
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

    private string[] At(ScriptedNode node) => ["--endpoint", node.Address, "--context", Path.Combine(_dir, "absent.json")];

    [Fact]
    public async Task Add_remove_move_and_transfer_leader_submit_their_operation_wait_with_progress_and_print_the_final_record()
    {
        await using var node = await ScriptedNode.StartAsync();
        OperationScript.Script(node);

        var add = Run(["replica", "add", "--range", "1", "--store", "4", "-o", "json", .. At(node)]);
        Assert.True(add.Code == ExitCodes.Ok, add.Stderr);
        using (var doc = JsonDocument.Parse(add.Stdout))
        {
            Assert.Equal("kv/v1", doc.RootElement.GetProperty("apiVersion").GetString());
            Assert.Equal("Operation", doc.RootElement.GetProperty("kind").GetString());
            Assert.Equal("succeeded", doc.RootElement.GetProperty("state").GetString());
            Assert.Equal("addReplica", doc.RootElement.GetProperty("spec").GetProperty("kind").GetString());
        }

        Assert.Contains("step 1 of 1 (move range 1's replica from store 3 to store 4)", add.Stderr, StringComparison.Ordinal);
        Assert.Contains("ranges 0 done, 1 left", add.Stderr, StringComparison.Ordinal);
        Assert.Contains("ETA 5s", add.Stderr, StringComparison.Ordinal);
        var sent = node.Received(AdminMethods.SubmitOperation).Single();
        Assert.Equal((OperationKind.AddReplica, 1ul, 4ul), (sent.Spec.Kind, sent.Spec.RangeId, sent.Spec.StoreId));
        Assert.True(OperationId.TryParse(sent.Id, out _, out _), sent.Id);
        Assert.NotEmpty(sent.RequestedBy);

        Assert.Equal(ExitCodes.Ok, Run(["replica", "remove", "--range", "1", "--store", "2", .. At(node)]).Code);
        Assert.Equal((OperationKind.RemoveReplica, 2ul), (node.Received(AdminMethods.SubmitOperation)[^1].Spec.Kind, node.Received(AdminMethods.SubmitOperation)[^1].Spec.StoreId));

        var move = Run(["replica", "move", "--range", "1", "--from", "3", "--to", "4", .. At(node)]);
        Assert.True(move.Code == ExitCodes.Ok, move.Stderr);
        Assert.Contains("succeeded", move.Stdout, StringComparison.Ordinal);
        var moveSent = node.Received(AdminMethods.SubmitOperation)[^1].Spec;
        Assert.Equal((OperationKind.MoveReplica, 3ul, 4ul), (moveSent.Kind, moveSent.FromStoreId, moveSent.ToStoreId));

        Assert.Equal(ExitCodes.Ok, Run(["replica", "move", "--range", "1", "--from", "3", .. At(node)]).Code);
        Assert.Equal(0ul, node.Received(AdminMethods.SubmitOperation)[^1].Spec.ToStoreId); // the planner picks

        Assert.Equal(ExitCodes.Ok, Run(["range", "transfer-leader", "--range", "1", "--store", "2", .. At(node)]).Code);
        Assert.Equal(OperationKind.TransferLeader, node.Received(AdminMethods.SubmitOperation)[^1].Spec.Kind);
    }

    [Fact]
    public async Task No_wait_prints_the_id_and_id_names_the_operation()
    {
        await using var node = await ScriptedNode.StartAsync();
        OperationScript.Script(node);

        var run = Run(["replica", "add", "--range", "1", "--store", "4", "--no-wait", "--id", "add-4.retry_1", .. At(node)]);

        Assert.True(run.Code == ExitCodes.Ok, run.Stderr);
        Assert.Equal("add-4.retry_1", run.Stdout.Trim());
        Assert.Equal("add-4.retry_1", node.Received(AdminMethods.SubmitOperation).Single().Id);
        Assert.Empty(node.Received(AdminMethods.WatchOperation));
    }

    [Fact]
    public async Task A_failed_operation_exits_1_with_its_reason_and_stuck_ranges_are_shown_with_theirs()
    {
        await using var node = await ScriptedNode.StartAsync();
        OperationScript.Script(node, OperationState.Failed, failure: "store 4 is not Up", stuck: true);

        var run = Run(["replica", "move", "--range", "1", "--from", "3", "--to", "4", .. At(node)]);

        Assert.Equal(ExitCodes.Failed, run.Code);
        Assert.Contains("failed: store 4 is not Up", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("stuck: range 11 (since 2026-12-05T19:00:01Z): no eligible store in zone b", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_preflight_refusal_exits_3_with_the_servers_reason_and_a_reused_id_exits_6()
    {
        await using var node = await ScriptedNode.StartAsync();
        node.On(AdminMethods.SubmitOperation, r => new SubmitOperationResponse
        {
            Error = r.Id == "taken"
                ? new PlacementError { Code = PlacementErrorCode.PlacementErrorConflict, Message = "operation taken was submitted with other content" }
                : new PlacementError { Code = PlacementErrorCode.PlacementErrorFailedPrecondition, Message = "range 1 would lose quorum if one more store fails; use --force --reason" },
        });

        var refused = Run(["replica", "remove", "--range", "1", "--store", "1", .. At(node)]);
        Assert.Equal(ExitCodes.RefusedUnsafe, refused.Code);
        Assert.Contains("would lose quorum", refused.Stderr, StringComparison.Ordinal);

        var conflict = Run(["replica", "remove", "--range", "1", "--store", "1", "--id", "taken", .. At(node)]);
        Assert.Equal(ExitCodes.Conflict, conflict.Code);
        Assert.Contains("other content", conflict.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("replica", "remove", "--range", "1", "--store", "2", "--force")]
    [InlineData("replica", "move", "--range", "1", "--from", "2", "--to", "3", "--force", "--reason", " ")]
    [InlineData("range", "transfer-leader", "--range", "1", "--store", "2", "--force")]
    [InlineData("range", "split", "--key", "m", "--range", "1", "--force")]
    [InlineData("store", "drain", "2", "--force")]
    public async Task Force_without_a_reason_is_refused_before_any_call(params string[] args)
    {
        await using var node = await ScriptedNode.StartAsync();

        var run = Run([.. args, .. At(node)]);

        Assert.Equal(ExitCodes.Usage, run.Code);
        Assert.Contains("--force needs --reason", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("nothing was sent", run.Stderr, StringComparison.Ordinal);
        Assert.Empty(node.Received(AdminMethods.SubmitOperation));
        Assert.Empty(node.Received(AdminMethods.PlanOperation));
        Assert.Empty(node.Received(PlacementMethods.ScanRanges));
    }

    [Fact]
    public async Task Range_split_by_key_finds_the_range_fences_on_its_epoch_and_submits_a_split()
    {
        await using var node = await ScriptedNode.StartAsync();
        OperationScript.Script(node);
        var range = new RangeDescriptor { RangeId = 1, Epoch = new RangeEpoch { ConfVer = 2, Version = 3 }, Replicas = { new ReplicaDescriptor { ReplicaId = 1, StoreId = 1 } } };
        node.On(PlacementMethods.ScanRanges, _ => new ScanRangesResponse { Header = new ResponseHeader { ClusterId = "c" }, Ranges = { new RangeInfo { Range = range } } });

        var run = Run(["range", "split", "--key", "m", .. At(node)]);

        Assert.True(run.Code == ExitCodes.Ok, run.Stderr);
        var spec = node.Received(AdminMethods.SubmitOperation).Single().Spec;
        Assert.Equal((OperationKind.Split, 1ul, "m"), (spec.Kind, spec.RangeId, spec.SplitKey.ToStringUtf8()));
        Assert.Equal((2ul, 3ul), (spec.Epoch.ConfVer, spec.Epoch.Version));
    }
}
