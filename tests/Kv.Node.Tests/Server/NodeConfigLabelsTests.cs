using Kv.Client.Cluster;
using Kv.Node.Server.Configuration;
using Kv.Node.Tests.TestSupport;

namespace Kv.Node.Tests.Server;

/// <summary>`kv-node serve --labels` and its spellings in the environment and the config file; bad labels stop the start with the reason.</summary>
public sealed class NodeConfigLabelsTests
{
    private static readonly Dictionary<string, string> NoEnv = [];

    [Fact]
    public void Labels_come_from_the_flag_the_environment_or_the_file_as_text_or_a_mapping()
    {
        var flag = NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1", "--labels", "zone=a, host=h1"], NoEnv);
        Assert.Equal("host=h1,zone=a", StoreLabels.Format(flag.Labels));

        var env = NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1"], new Dictionary<string, string> { ["KV_NODE_LABELS"] = "rack=r7" });
        Assert.Equal("rack=r7", StoreLabels.Format(env.Labels));

        using var dir = new TempDirectory();
        var mapping = dir.Sub("map.yaml");
        File.WriteAllText(mapping, "dataDir: d\njoin: [127.0.0.1:1]\nlabels:\n  zone: b\n  host: h2\n");
        Assert.Equal("host=h2,zone=b", StoreLabels.Format(NodeConfigLoader.Load(["--config", mapping], NoEnv).Labels));

        var text = dir.Sub("text.yaml");
        File.WriteAllText(text, "dataDir: d\njoin: [127.0.0.1:1]\nlabels: zone=c\n");
        Assert.Equal("zone=c", StoreLabels.Format(NodeConfigLoader.Load(["--config", text], NoEnv).Labels));

        Assert.Empty(NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1"], NoEnv).Labels);
    }

    [Theory]
    [InlineData("zone=a,zone=b", "given twice")]
    [InlineData("zone", "no '='")]
    [InlineData("zone=", "is empty")]
    [InlineData("=a", "is empty")]
    [InlineData("zone=a b", "has ' '")]
    [InlineData("zone=a,,host=h", "empty item")]
    [InlineData("zone=-a", "start and end")]
    public void A_bad_label_stops_the_start_naming_the_source_and_the_problem(string labels, string problem)
    {
        var e = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1", "--labels", labels], NoEnv));
        Assert.Contains("flag --labels", e.Message, StringComparison.Ordinal);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_label_list_in_the_file_is_refused_with_what_to_write()
    {
        using var dir = new TempDirectory();
        var file = dir.Sub("list.yaml");
        File.WriteAllText(file, "dataDir: d\njoin: [127.0.0.1:1]\nlabels: [zone=a]\n");
        var e = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Load(["--config", file], NoEnv));
        Assert.Contains("mapping", e.Message, StringComparison.Ordinal);
    }
}
