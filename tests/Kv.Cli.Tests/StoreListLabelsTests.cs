using System.Text.Json;
using Kv.Cli.Commands;
using Kv.Cli.Output;
using Kv.Proto.V1;

namespace Kv.Cli.Tests;

/// <summary><c>kvctl store list</c> shows store labels: a LABELS column and a <c>labels</c> map in JSON and YAML.</summary>
public sealed class StoreListLabelsTests
{
    private static StoreInfo[] Stores()
    {
        var labelled = new StoreDescriptor { StoreId = 1, Address = "n1:1", Version = "0.1.0" };
        labelled.Labels.Add("zone", "a");
        labelled.Labels.Add("host", "h1");
        labelled.Labels.Add("Rack_A", "r1"); // keys are shown as given: no naming policy touches them
        return
        [
            new StoreInfo { Store = labelled, State = StoreState.Up, Stats = new StoreStats() },
            new StoreInfo { Store = new StoreDescriptor { StoreId = 2, Address = "n2:1" }, State = StoreState.Up, Stats = new StoreStats() },
        ];
    }

    [Fact]
    public void Json_has_each_stores_labels_as_a_map_and_an_empty_one_for_none()
    {
        var json = new StringWriter();
        StoreCommand.WriteList(json, OutputFormat.Json, Stores());

        using var doc = JsonDocument.Parse(json.ToString());
        var items = doc.RootElement.GetProperty("items");
        var labels = items[0].GetProperty("labels");
        Assert.Equal("a", labels.GetProperty("zone").GetString());
        Assert.Equal("h1", labels.GetProperty("host").GetString());
        Assert.Equal("r1", labels.GetProperty("Rack_A").GetString());
        Assert.Empty(items[1].GetProperty("labels").EnumerateObject());
    }

    [Fact]
    public void The_table_has_a_labels_column_sorted_by_key_and_a_dash_for_none()
    {
        var table = new StringWriter();
        StoreCommand.WriteList(table, OutputFormat.Table, Stores());
        var lines = table.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Contains("LABELS", lines[0], StringComparison.Ordinal);
        Assert.EndsWith("Rack_A=r1,host=h1,zone=a", lines[1].TrimEnd(), StringComparison.Ordinal);
        Assert.EndsWith("-", lines[2].TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public void Yaml_keeps_label_keys_as_given()
    {
        var yaml = new StringWriter();
        StoreCommand.WriteList(yaml, OutputFormat.Yaml, Stores());
        Assert.Contains("Rack_A: r1", yaml.ToString(), StringComparison.Ordinal);
    }
}
