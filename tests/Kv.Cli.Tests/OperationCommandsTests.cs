using System.Text.Json;
using Kv.Node.Tests.ClientReactions;
using Kv.Proto.V1;

namespace Kv.Cli.Tests;

/// <summary>
/// kvctl operation, store drain|undrain|remove|maintenance, scheduler, audit and cluster settings
/// against a scripted node: dry runs change nothing, documents follow the views' contract, and
/// bad input is refused before any call with a message that says what to do.
/// </summary>
public sealed class OperationCommandsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvctl-operation-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = KvctlApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string[] At(ScriptedNode node) => ["--endpoint", node.Address, "--context", Path.Combine(_dir, "absent.json")];

    private static Plan DrainPlan(bool safe) => new()
    {
        Steps =
        {
            new PlanStep { Index = 0, Kind = StepKind.MoveReplica, RangeId = 1, FromStoreId = 4, ToStoreId = 2, Bytes = 4096, Description = "move range 1's replica from store 4 to store 2 (zone b)", State = StepState.Pending, Epoch = new RangeEpoch { ConfVer = 1, Version = 1 } },
            new PlanStep { Index = 1, Kind = StepKind.TransferLeader, RangeId = 2, StoreId = 3, Description = "move range 2's leadership to store 3", State = StepState.Pending },
        },
        Preflight = new Preflight
        {
            Safe = safe,
            Risks = { safe ? [] : new[] { new PreflightRisk { RangeId = 1, Step = 0, ToleranceBefore = 1, ToleranceDuring = 0, ToleranceAfter = 1, Reason = "store 5 is down" } } },
        },
        Notes = { "zone c is full" },
    };

    [Fact]
    public async Task Drain_dry_run_prints_the_plan_and_preflight_and_submits_nothing()
    {
        await using var node = await ScriptedNode.StartAsync();
        node.On(AdminMethods.PlanOperation, r => new PlanOperationResponse { Plan = DrainPlan(safe: r.Spec.StoreId == 4) });

        var table = Run(["store", "drain", "4", "--dry-run", .. At(node)]);
        Assert.True(table.Code == ExitCodes.Ok, table.Stderr);
        Assert.Contains("move range 1's replica from store 4 to store 2 (zone b)", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("preflight: safe", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("note: zone c is full", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("dry run: nothing was changed", table.Stdout, StringComparison.Ordinal);
        Assert.Equal((OperationKind.DrainStore, 4ul), (node.Received(AdminMethods.PlanOperation).Single().Spec.Kind, node.Received(AdminMethods.PlanOperation).Single().Spec.StoreId));

        var json = Run(["store", "drain", "5", "--dry-run", "-o", "json", .. At(node)]);
        Assert.Equal(ExitCodes.RefusedUnsafe, json.Code); // not safe, and not forced
        using (var doc = JsonDocument.Parse(json.Stdout))
        {
            Assert.Equal("kv/v1", doc.RootElement.GetProperty("apiVersion").GetString());
            Assert.Equal("Plan", doc.RootElement.GetProperty("kind").GetString());
            Assert.Equal("moveReplica", doc.RootElement.GetProperty("steps")[0].GetProperty("kind").GetString());
            Assert.False(doc.RootElement.GetProperty("preflight").GetProperty("safe").GetBoolean());
            Assert.Equal(0, doc.RootElement.GetProperty("preflight").GetProperty("risks")[0].GetProperty("toleranceDuring").GetInt32());
        }

        var forced = Run(["store", "drain", "5", "--dry-run", "--force", "--reason", "replacing the disk", .. At(node)]);
        Assert.Equal(ExitCodes.Ok, forced.Code);
        Assert.Contains("NOT SAFE", forced.Stdout, StringComparison.Ordinal);
        Assert.True(node.Received(AdminMethods.PlanOperation)[^1].Spec.Force);

        Assert.Empty(node.Received(AdminMethods.SubmitOperation));
    }

    [Fact]
    public async Task Drain_waits_with_progress_and_operation_list_and_show_print_the_records()
    {
        await using var node = await ScriptedNode.StartAsync();
        OperationScript.Script(node);
        var records = new[]
        {
            OperationScript.Record("op-b", new OperationSpec { Kind = OperationKind.DrainStore, StoreId = 4 }, OperationState.Running, 5, done: 2, left: 3),
            OperationScript.Record("op-a", new OperationSpec { Kind = OperationKind.Split, RangeId = 1, SplitKey = Google.Protobuf.ByteString.CopyFromUtf8("m") }, OperationState.Succeeded, 3),
        };
        node.On(AdminMethods.ListOperations, _ => new ListOperationsResponse { Operations = { records } });
        node.On(AdminMethods.GetOperation, r => r.Id == "op-b"
            ? new GetOperationResponse { Operation = records[0] }
            : new GetOperationResponse { Error = new PlacementError { Code = PlacementErrorCode.PlacementErrorNotFound, Message = $"operation {r.Id} not found; `kvctl operation list` shows the operations" } });

        var drain = Run(["store", "drain", "4", "--reason", "hardware swap", .. At(node)]);
        Assert.True(drain.Code == ExitCodes.Ok, drain.Stderr);
        Assert.Contains("drain store 4", drain.Stderr, StringComparison.Ordinal);
        Assert.Contains("running, step 1 of 1", drain.Stderr, StringComparison.Ordinal);
        Assert.Contains("succeeded", drain.Stdout, StringComparison.Ordinal);
        Assert.Equal("hardware swap", node.Received(AdminMethods.SubmitOperation).Single().Reason);

        var list = Run(["operation", "list", "--state", "running,succeeded", "--since", "2h", .. At(node)]);
        Assert.True(list.Code == ExitCodes.Ok, list.Stderr);
        Assert.Contains("op-b", list.Stdout, StringComparison.Ordinal);
        Assert.Contains("drain-store", list.Stdout, StringComparison.Ordinal);
        Assert.Contains("split range 1 at m", list.Stdout, StringComparison.Ordinal);
        var sent = node.Received(AdminMethods.ListOperations).Single();
        Assert.Equal([OperationState.Running, OperationState.Succeeded], sent.States);
        Assert.InRange(sent.SinceMs, DateTimeOffset.UtcNow.AddHours(-2).AddMinutes(-5).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeMilliseconds() + 1);

        var json = Run(["operation", "list", "-o", "json", .. At(node)]);
        using (var doc = JsonDocument.Parse(json.Stdout))
        {
            Assert.Equal("OperationList", doc.RootElement.GetProperty("kind").GetString());
            Assert.Equal("kv/v1", doc.RootElement.GetProperty("items")[0].GetProperty("apiVersion").GetString());
            Assert.Equal("drainStore", doc.RootElement.GetProperty("items")[0].GetProperty("spec").GetProperty("kind").GetString());
        }

        var yaml = Run(["operation", "show", "op-b", "-o", "yaml", .. At(node)]);
        Assert.True(yaml.Code == ExitCodes.Ok, yaml.Stderr);
        Assert.Contains("apiVersion: kv/v1", yaml.Stdout, StringComparison.Ordinal);
        Assert.Contains("state: running", yaml.Stdout, StringComparison.Ordinal);

        var show = Run(["operation", "show", "op-b", .. At(node)]);
        Assert.Contains("step 1 of 1", show.Stdout, StringComparison.Ordinal);
        Assert.Contains("ranges 2 done, 3 left", show.Stdout, StringComparison.Ordinal);

        var missing = Run(["operation", "show", "op-zz", .. At(node)]);
        Assert.Equal(ExitCodes.NotFound, missing.Code);
        Assert.Contains("operation op-zz not found", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_a_finished_operation_exits_3_with_the_servers_reason()
    {
        await using var node = await ScriptedNode.StartAsync();
        node.On(AdminMethods.CancelOperation, r => new CancelOperationResponse
        {
            Error = new PlacementError { Code = PlacementErrorCode.PlacementErrorFailedPrecondition, Message = $"operation {r.Id} already SUCCEEDED; nothing to cancel" },
        });

        var run = Run(["operation", "cancel", "op-a", "--reason", "oops", .. At(node)]);

        Assert.Equal(ExitCodes.RefusedUnsafe, run.Code);
        Assert.Contains("already SUCCEEDED", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("oops", node.Received(AdminMethods.CancelOperation).Single().Reason);
    }

    [Fact]
    public async Task Maintenance_audit_scheduler_and_settings_send_what_was_asked_and_status_shows_the_replication_factor()
    {
        await using var node = await ScriptedNode.StartAsync();
        node.On(AdminMethods.SetStoreMaintenance, r => new SetStoreMaintenanceResponse
        {
            Store = new StoreStatus { Store = new StoreDescriptor { StoreId = r.StoreId }, MaintenanceUntilMs = 1_796_500_800_000 },
        });
        node.On(AdminMethods.ListAudit, _ => new ListAuditResponse
        {
            Entries = { new AuditEntry { Seq = 1, AtMs = 1_796_497_200_000, Who = "alice", Action = AuditAction.Submitted, OperationId = "op-a", Kind = OperationKind.DrainStore, What = "drain store 4" } },
        });
        node.On(AdminMethods.GetClusterSettings, _ => new GetClusterSettingsResponse { Settings = new ClusterSettings { ReplicationFactor = 3 } });
        node.On(PlacementMethods.GetClusterInfo, _ => new GetClusterInfoResponse { Header = new ResponseHeader { ClusterId = "c1" }, Bootstrapped = true });

        var maintenance = Run(["store", "maintenance", "4", "--for", "1h30m", "--reason", "kernel upgrade", .. At(node)]);
        Assert.True(maintenance.Code == ExitCodes.Ok, maintenance.Stderr);
        Assert.Contains("in maintenance until 2026-12-05T20:00:00Z", maintenance.Stdout, StringComparison.Ordinal);
        var window = node.Received(AdminMethods.SetStoreMaintenance).Single();
        Assert.Equal((4ul, 5_400_000L, "kernel upgrade"), (window.StoreId, window.DurationMs, window.Reason));

        var audit = Run(["audit", "list", "--since", "2026-12-05T18:00:00Z", "-o", "json", .. At(node)]);
        Assert.True(audit.Code == ExitCodes.Ok, audit.Stderr);
        using (var doc = JsonDocument.Parse(audit.Stdout))
        {
            Assert.Equal("AuditList", doc.RootElement.GetProperty("kind").GetString());
            Assert.Equal("submitted", doc.RootElement.GetProperty("items")[0].GetProperty("action").GetString());
        }

        Assert.Equal(DateTimeOffset.Parse("2026-12-05T18:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), node.Received(AdminMethods.ListAudit).Single().SinceMs);

        var status = Run(["cluster", "status", "-o", "json", .. At(node)]);
        Assert.True(status.Code == ExitCodes.Ok, status.Stderr);
        using (var doc = JsonDocument.Parse(status.Stdout))
        {
            Assert.Equal(3, doc.RootElement.GetProperty("replicationFactor").GetInt32());
        }

        var settings = Run(["cluster", "settings", "set", "--replication-factor", "5", "--dry-run", .. At(node)]);
        Assert.Equal(ExitCodes.Ok, settings.Code);
        Assert.Contains("replication factor 3 -> 5", settings.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cluster_status_still_works_when_the_node_has_no_admin_API_and_says_the_factor_is_unknown()
    {
        await using var node = await ScriptedNode.StartAsync();
        node.On(PlacementMethods.GetClusterInfo, _ => new GetClusterInfoResponse { Header = new ResponseHeader { ClusterId = "c1" }, Bootstrapped = true });

        var status = Run(["cluster", "status", .. At(node)]);

        Assert.True(status.Code == ExitCodes.Ok, status.Stderr);
        Assert.Contains("replication factor", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("unknown", status.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--for", "1x", "is not a duration")]
    [InlineData("--for", "", "is not a duration")]
    [InlineData("--for", "8d", "longer than the 7 days")]
    public async Task Bad_maintenance_durations_are_refused_before_any_call(string option, string value, string message)
    {
        await using var node = await ScriptedNode.StartAsync();

        var run = Run(["store", "maintenance", "4", option, value, .. At(node)]);

        Assert.Equal(ExitCodes.Usage, run.Code);
        Assert.Contains(message, run.Stderr, StringComparison.Ordinal);
        Assert.Empty(node.Received(AdminMethods.SetStoreMaintenance));
    }

    [Theory]
    [InlineData("audit", "list", "--since", "yesterday")]
    [InlineData("audit", "list", "--since", "1w")]
    [InlineData("audit", "list", "--limit", "0")]
    [InlineData("audit", "list", "--operation", "a b")]
    [InlineData("operation", "list", "--state", "sleeping")]
    [InlineData("operation", "list", "--limit", "5000")]
    [InlineData("operation", "show", "bad/id")]
    [InlineData("operation", "frobnicate")]
    [InlineData("store", "drain")]
    [InlineData("store", "drain", "0")]
    [InlineData("store", "drain", "4", "--dry-run", "--no-wait")]
    [InlineData("store", "drain", "4", "--id", "has space")]
    [InlineData("store", "maintenance", "4")]
    [InlineData("replica", "move", "--range", "1", "--from", "2", "--to", "2")]
    [InlineData("replica", "add", "--range", "0", "--store", "2")]
    [InlineData("cluster", "settings", "set")]
    [InlineData("cluster", "settings", "set", "--replication-factor", "9")]
    [InlineData("scheduler", "stop")]
    public async Task Bad_input_is_a_usage_error_with_a_message_and_sends_nothing(params string[] args)
    {
        await using var node = await ScriptedNode.StartAsync();

        var run = Run([.. args, .. At(node)]);

        Assert.Equal(ExitCodes.Usage, run.Code);
        Assert.StartsWith("error:", run.Stderr, StringComparison.Ordinal);
        Assert.True(run.Stderr.Length > "error: ".Length + 10, run.Stderr);
        Assert.Empty(node.Received(AdminMethods.SubmitOperation));
        Assert.Empty(node.Received(AdminMethods.ListAudit));
        Assert.Empty(node.Received(AdminMethods.ListOperations));
        Assert.Empty(node.Received(AdminMethods.GetOperation));
    }
}
