using Kv.Node.Server.Configuration;
using Kv.Node.Tests.TestSupport;

namespace Kv.Node.Tests.Server;

public sealed class NodeConfigLoaderTests
{
    private static readonly Dictionary<string, string> NoEnv = [];

    [Fact]
    public void Flags_beat_environment_which_beats_the_file_which_beats_defaults()
    {
        using var dir = new TempDirectory();
        var file = dir.Sub("node.yaml");
        File.WriteAllText(file, "dataDir: /from/file\nlisten: 127.0.0.1:1111\njoin: [127.0.0.1:1111]\ntickIntervalMs: 7\nelectionTicks: 20\n");
        var env = new Dictionary<string, string> { ["KV_NODE_TICK_INTERVAL_MS"] = "8", ["KV_NODE_DATA_DIR"] = "/from/env" };

        var config = NodeConfigLoader.Load(["--config", file, "--data-dir", "/from/flag"], env);

        Assert.Equal("/from/flag", config.DataDir);
        Assert.Equal(8, config.TickIntervalMs);
        Assert.Equal(20, config.ElectionTicks);
        Assert.Equal(1, config.HeartbeatTicks);
        Assert.Equal(1ul, config.MemberId);
    }

    [Fact]
    public void Log_compaction_and_snapshot_limits_are_settings_with_defaults()
    {
        var defaults = NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1"], NoEnv);
        Assert.Equal(10_000ul, defaults.RaftLogCompactThreshold);
        Assert.Equal(4, defaults.MaxConcurrentSnapshots);

        var env = new Dictionary<string, string> { ["KV_NODE_MAX_CONCURRENT_SNAPSHOTS"] = "2" };
        var set = NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1", "--raft-log-compact-threshold", "500"], env);
        Assert.Equal(500ul, set.RaftLogCompactThreshold);
        Assert.Equal(2, set.MaxConcurrentSnapshots);

        var e = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1", "--max-concurrent-snapshots", "0"], NoEnv));
        Assert.Contains("max-concurrent-snapshots", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_store_down_replace_delay_defaults_to_30_minutes_and_takes_durations()
    {
        var defaults = NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1"], NoEnv);
        Assert.Equal(30L * 60 * 1000, defaults.StoreDownReplaceAfterMs);
        Assert.Equal(5000, defaults.SchedulerIntervalMs);

        foreach (var (text, ms) in new[] { ("500ms", 500L), ("90s", 90_000L), ("45m", 2_700_000L), ("2h", 7_200_000L), ("1d", 86_400_000L), ("1500", 1500L) })
        {
            var set = NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1", "--store-down-replace-after", text], NoEnv);
            Assert.Equal(ms, set.StoreDownReplaceAfterMs);
        }

        foreach (var bad in new[] { "soon", "-5m", "10x", "50ms", "31d" })
        {
            var e = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1", "--store-down-replace-after", bad], NoEnv));
            Assert.Contains("store-down-replace-after", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_metrics_listener_defaults_to_the_listen_port_plus_20_and_can_be_set()
    {
        var defaults = NodeConfigLoader.Load(["--data-dir", "d", "--listen", "127.0.0.1:20160", "--join", "127.0.0.1:20160"], NoEnv);
        Assert.Null(defaults.MetricsAddr);
        Assert.Equal("127.0.0.1:20180", NodeConfigLoader.MetricsEndPoint(defaults).ToString());

        var set = NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1", "--metrics-addr", "0.0.0.0:9100"], NoEnv);
        Assert.Equal("0.0.0.0:9100", NodeConfigLoader.MetricsEndPoint(set).ToString());
        var any = NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1"], new Dictionary<string, string> { ["KV_NODE_METRICS_ADDR"] = "127.0.0.1:0" });
        Assert.Equal("127.0.0.1:0", NodeConfigLoader.MetricsEndPoint(any).ToString());

        var bad = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Load(["--data-dir", "d", "--join", "127.0.0.1:1", "--metrics-addr", "9100"], NoEnv));
        Assert.Contains("metrics-addr", bad.Message, StringComparison.Ordinal);
        var noRoom = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Load(["--data-dir", "d", "--listen", "127.0.0.1:65530", "--join", "127.0.0.1:65530"], NoEnv));
        Assert.Contains("--metrics-addr", noRoom.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Member_id_is_the_position_of_the_advertise_address_in_join()
    {
        var config = NodeConfigLoader.Load(["--data-dir", "d", "--listen", "0.0.0.0:3", "--advertise", "10.0.0.2:3", "--join", "10.0.0.1:3,10.0.0.2:3,10.0.0.3:3"], NoEnv);
        Assert.Equal(2ul, config.MemberId);

        var outsider = NodeConfigLoader.Load(["--data-dir", "d", "--listen", "10.0.0.9:3", "--join", "10.0.0.1:3,10.0.0.2:3,10.0.0.3:3"], NoEnv);
        Assert.Equal(0ul, outsider.MemberId);
    }

    [Theory]
    [InlineData(new[] { "--join", "127.0.0.1:1" }, "--data-dir is required")]
    [InlineData(new[] { "--data-dir", "d" }, "--join is required")]
    [InlineData(new[] { "--data-dir", "d", "--join", "127.0.0.1:1,127.0.0.1:2" }, "use 1, 3 or 5")]
    [InlineData(new[] { "--data-dir", "d", "--join", "127.0.0.1:1,127.0.0.1:1,127.0.0.1:3" }, "an address twice")]
    [InlineData(new[] { "--data-dir", "d", "--join", "nohost" }, "HOST:PORT")]
    [InlineData(new[] { "--data-dir", "d", "--join", "127.0.0.1:70000" }, "HOST:PORT")]
    [InlineData(new[] { "--data-dir", "d", "--join", "127.0.0.1:1", "--tick-interval-ms", "abc" }, "whole number")]
    [InlineData(new[] { "--data-dir", "d", "--join", "127.0.0.1:1", "--election-ticks", "2", "--heartbeat-ticks", "2" }, "must be below election-ticks")]
    [InlineData(new[] { "--data-dir", "d", "--join", "127.0.0.1:1", "--frobnicate", "1" }, "unknown flag --frobnicate")]
    [InlineData(new[] { "--data-dir", "d", "--join", "127.0.0.1:9", "--placement" }, "is not in --join")]
    [InlineData(new[] { "--data-dir", "d", "--data-dir", "e", "--join", "127.0.0.1:9" }, "given twice")]
    public void Bad_settings_are_refused_with_what_to_fix(string[] args, string expected)
    {
        var e = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Load(args, NoEnv));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dataDir: [unclosed\n", "not valid YAML at line")]
    [InlineData("dataDir: d\njoin: [127.0.0.1:1]\ntypo: 1\n", "unknown key 'typo'")]
    [InlineData("dataDir: {a: b}\njoin: [127.0.0.1:1]\n", "must be a scalar")]
    public void A_corrupt_config_file_is_refused_naming_the_file(string yaml, string expected)
    {
        using var dir = new TempDirectory();
        var file = dir.Sub("bad.yaml");
        File.WriteAllText(file, yaml);
        var e = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Load(["--config", file], NoEnv));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Contains(file, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_config_file_is_refused()
    {
        var e = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Load(["--config", "/nonexistent/kv.yaml"], NoEnv));
        Assert.Contains("cannot be read", e.Message, StringComparison.Ordinal);
    }
}
