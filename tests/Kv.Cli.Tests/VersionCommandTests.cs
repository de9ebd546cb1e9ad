using System.Text.Json;

namespace Kv.Cli.Tests;

public class VersionCommandTests
{
    [Fact]
    public void Json_output_is_a_versioned_document()
    {
        var stdout = new StringWriter();
        var code = KvctlApp.Run(["version", "-o", "json"], stdout, new StringWriter());
        Assert.Equal(ExitCodes.Ok, code);
        using var doc = JsonDocument.Parse(stdout.ToString());
        Assert.Equal("kvctl/v1", doc.RootElement.GetProperty("apiVersion").GetString());
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("kvctl").GetString()));
    }

    [Fact]
    public void Yaml_and_table_outputs_name_the_component()
    {
        var yaml = new StringWriter();
        Assert.Equal(ExitCodes.Ok, KvctlApp.Run(["version", "-o", "yaml"], yaml, new StringWriter()));
        Assert.Contains("apiVersion: kvctl/v1", yaml.ToString(), StringComparison.Ordinal);

        var table = new StringWriter();
        Assert.Equal(ExitCodes.Ok, KvctlApp.Run(["version"], table, new StringWriter()));
        Assert.StartsWith("COMPONENT", table.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_verbs_and_formats_are_usage_errors_with_a_hint()
    {
        var stderr = new StringWriter();
        Assert.Equal(ExitCodes.Usage, KvctlApp.Run(["version", "-o", "xml"], new StringWriter(), stderr));
        Assert.Contains("kvctl --help", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, KvctlApp.Run(["frobnicate"], new StringWriter(), new StringWriter()));
    }
}
