using System.Runtime.CompilerServices;
using System.Text.Json;
using Kv.Client.Views;
using static Kv.Client.Tests.Views.ViewFixtures;

namespace Kv.Client.Tests.Views;

/// <summary>
/// The JSON contract (docs/CLI.md) as golden files: the exact JSON of each view for the fixtures.
/// A change to a golden file is a change of the contract: within kv/v1 only additions are allowed.
/// Regenerate after a deliberate addition with KV_UPDATE_GOLDEN=1 and review the diff.
/// </summary>
public sealed class ViewJsonContractTests
{
    public static TheoryData<string> Documents() => ["operation", "operation-list", "plan", "store", "audit-entry", "scheduler-status", "cluster-settings", "range", "cluster"];

    private static object Document(string name) => name switch
    {
        "operation" => OperationView.From(Operation()),
        "operation-list" => new ListView<OperationView>("OperationList", [OperationView.From(new Proto.V1.OperationRecord { Id = "op-a", State = Proto.V1.OperationState.Pending, CreatedMs = T0 })]),
        "plan" => OperationView.From(Operation()).Plan,
        "store" => StoreView.From(Store()),
        "audit-entry" => AuditEntryView.From(Audit()),
        "scheduler-status" => SchedulerStatusView.From(Scheduler()),
        "cluster-settings" => ClusterSettingsView.From(Settings()),
        "range" => RangeView.From(Range()),
        "cluster" => ClusterView.From(ClusterInfo(), null, 3),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Documents))]
    public void Each_view_serializes_exactly_as_its_golden_file(string name)
    {
        var json = ViewJson.Serialize(Document(name)).ReplaceLineEndings("\n") + "\n";
        var path = Path.Combine(GoldenDir(), name + ".json");
        if (Environment.GetEnvironmentVariable("KV_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(path, json);
        }

        Assert.True(File.Exists(path), $"golden file {path} is missing; run with KV_UPDATE_GOLDEN=1 to create it, then review it");
        Assert.Equal(File.ReadAllText(path).ReplaceLineEndings("\n"), json);
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_document_starts_with_apiVersion_kv_v1_and_its_kind(string name)
    {
        using var doc = JsonDocument.Parse(ViewJson.Serialize(Document(name)));
        var first = doc.RootElement.EnumerateObject().Take(2).Select(p => p.Name).ToList();
        Assert.Equal(["apiVersion", "kind"], first);
        Assert.Equal("kv/v1", doc.RootElement.GetProperty("apiVersion").GetString());
    }

    [Fact]
    public void Enums_are_camelCase_strings_ids_are_numbers_times_are_utc_iso_and_durations_seconds()
    {
        using var doc = JsonDocument.Parse(ViewJson.Serialize(OperationView.From(Operation())));
        var root = doc.RootElement;
        Assert.Equal("running", root.GetProperty("state").GetString());
        Assert.Equal("moveReplica", root.GetProperty("spec").GetProperty("kind").GetString());
        Assert.Equal("done", root.GetProperty("plan").GetProperty("steps")[0].GetProperty("state").GetString());
        Assert.Equal(7, root.GetProperty("spec").GetProperty("rangeId").GetInt32());
        Assert.Equal("op-20261205-190000-0a1b2c3d", root.GetProperty("id").GetString());
        Assert.Equal("2026-12-05T19:00:00.000Z", root.GetProperty("created").GetString());
        Assert.Equal(90, root.GetProperty("progress").GetProperty("eta").GetDouble());

        using var store = JsonDocument.Parse(ViewJson.Serialize(StoreView.From(Store())));
        Assert.Equal("draining", store.RootElement.GetProperty("adminState").GetString());
        Assert.Equal("down", store.RootElement.GetProperty("liveness").GetString());
        Assert.Equal("b", store.RootElement.GetProperty("labels").GetProperty("zone").GetString());

        using var audit = JsonDocument.Parse(ViewJson.Serialize(AuditEntryView.From(Audit())));
        Assert.Equal("override", audit.RootElement.GetProperty("action").GetString());
        Assert.Equal("removeReplica", audit.RootElement.GetProperty("operationKind").GetString());
    }

    [Fact]
    public void Null_fields_are_left_out()
    {
        using var doc = JsonDocument.Parse(ViewJson.Serialize(OperationView.From(new Proto.V1.OperationRecord { Id = "op-x" })));
        Assert.False(doc.RootElement.TryGetProperty("failure", out _));
        Assert.False(doc.RootElement.TryGetProperty("created", out _));
        Assert.False(doc.RootElement.GetProperty("spec").TryGetProperty("rangeId", out _));
    }

    private static string GoldenDir([CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "Golden");
}
