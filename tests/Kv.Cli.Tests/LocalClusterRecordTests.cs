using Kv.Cli.Local;

namespace Kv.Cli.Tests;

/// <summary>cluster.json: round trip, validation, and the derived layout and --join list.</summary>
public sealed class LocalClusterRecordTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kv-cli-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void A_saved_record_loads_back_equal_ports_and_pids_included()
    {
        var record = LocalClusterRecord.Create([41001, 41002, 41003], DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000)).WithPid(2, 4242);
        LocalClusterRecord.Save(_dir, record);

        var loaded = LocalClusterRecord.Load(_dir);

        Assert.NotNull(loaded);
        Assert.Equal(1_700_000_000_000, loaded.CreatedAtMs);
        Assert.Equal([1, 2, 3], loaded.Nodes.Select(n => n.Id));
        Assert.Equal([41001, 41002, 41003], loaded.Nodes.Select(n => n.Port));
        Assert.Equal([null, 4242, null], loaded.Nodes.Select(n => n.Pid));
        Assert.False(File.Exists(LocalClusterRecord.PathIn(_dir) + ".tmp"));
    }

    [Fact]
    public void No_file_is_no_cluster()
    {
        Assert.Null(LocalClusterRecord.Load(_dir));
    }

    [Theory]
    [InlineData("{ not json", "not valid JSON")]
    [InlineData("""{"apiVersion":"kvctl/v9","kind":"LocalCluster","nodes":[{"id":1,"port":1000}]}""", "apiVersion 'kvctl/v9'")]
    [InlineData("""{"apiVersion":"kvctl/v1","kind":"LocalCluster","nodes":[]}""", "1 to 9 nodes")]
    [InlineData("""{"apiVersion":"kvctl/v1","kind":"LocalCluster","nodes":[{"id":2,"port":1000}]}""", "ids must be 1..1")]
    [InlineData("""{"apiVersion":"kvctl/v1","kind":"LocalCluster","nodes":[{"id":1,"port":70000}]}""", "port 70000")]
    [InlineData("""{"apiVersion":"kvctl/v1","kind":"LocalCluster","nodes":[{"id":1,"port":1000},{"id":2,"port":1000}]}""", "same port")]
    [InlineData("""{"apiVersion":"kvctl/v1","kind":"LocalCluster","nodes":[{"id":1,"port":1000,"pid":-3}]}""", "pid -3")]
    public void A_bad_record_is_refused_naming_the_file_the_problem_and_what_to_do(string json, string problem)
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(LocalClusterRecord.PathIn(_dir), json);

        var e = Assert.Throws<InvalidDataException>(() => LocalClusterRecord.Load(_dir));

        Assert.Contains(LocalClusterRecord.PathIn(_dir), e.Message, StringComparison.Ordinal);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.Contains("kvctl local up", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 3)]
    [InlineData(4, 3)]
    [InlineData(5, 5)]
    [InlineData(9, 5)]
    public void The_join_list_names_the_first_1_3_or_5_nodes_in_order(int nodes, int members)
    {
        var ports = Enumerable.Range(0, nodes).Select(i => 42000 + i).ToList();
        var record = LocalClusterRecord.Create(ports, DateTimeOffset.UnixEpoch);

        Assert.Equal(members, LocalClusterRecord.PlacementMemberCount(nodes));
        Assert.Equal(string.Join(',', ports.Take(members).Select(p => "127.0.0.1:" + p)), record.JoinList());
        Assert.Equal(ports.Select(p => "127.0.0.1:" + p), record.Endpoints());
    }

    [Fact]
    public void Node_arguments_use_the_recorded_port_and_the_layout_under_dir()
    {
        var record = LocalClusterRecord.Create([43001, 43002, 43003], DateTimeOffset.UnixEpoch);

        var args = LocalCluster.NodeArguments(record, "/d", record.Nodes[1]);

        Assert.Equal(
            ["serve", "--data-dir", "/d/node2/data", "--listen", "127.0.0.1:43002", "--advertise", "127.0.0.1:43002", "--join", "127.0.0.1:43001,127.0.0.1:43002,127.0.0.1:43003", "--labels", "host=node2"],
            args);
        Assert.Equal("/d/node2/kv-node.log", LocalClusterRecord.LogPath("/d", 2));
    }

    [Fact]
    public void Create_refuses_bad_node_counts_and_duplicate_ports()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LocalClusterRecord.Create([], DateTimeOffset.UnixEpoch));
        Assert.Throws<ArgumentOutOfRangeException>(() => LocalClusterRecord.Create([.. Enumerable.Range(1000, 10)], DateTimeOffset.UnixEpoch));
        Assert.Throws<ArgumentException>(() => LocalClusterRecord.Create([1000, 1000], DateTimeOffset.UnixEpoch));
    }

    [Fact]
    public void Free_ports_are_distinct_and_bindable()
    {
        var ports = LocalPorts.PickFree(5);

        Assert.Equal(5, ports.Distinct().Count());
        Assert.All(ports, p => Assert.True(LocalPorts.IsFree(p)));

        // Never from the kernel's ephemeral range, where outgoing connections could take a kept port.
        var (low, high) = LocalPorts.ListenRange();
        var ephemeralLow = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', ' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(ephemeralLow, high);
        Assert.All(ports, p => Assert.InRange(p, low, high - 1));
    }

    [Fact]
    public void A_pid_counts_as_the_node_only_when_its_command_line_names_kv_node_and_its_data_dir()
    {
        Assert.True(LocalProcesses.IsNodeCommandLine("/usr/bin/dotnet /b/kv-node.dll serve --data-dir /d/node1/data --listen 127.0.0.1:1", "/d/node1/data"));
        Assert.True(LocalProcesses.IsNodeCommandLine("/b/kv-node serve --data-dir /d/node1/data", "/d/node1/data"));
        Assert.False(LocalProcesses.IsNodeCommandLine("/b/kv-node serve --data-dir /d/node2/data", "/d/node1/data"));
        Assert.False(LocalProcesses.IsNodeCommandLine("/usr/bin/vim /d/node1/data", "/d/node1/data"));
        Assert.False(LocalProcesses.IsNodeCommandLine("/b/not-kv-node serve --data-dir /d/node1/data", "/d/node1/data"));
        Assert.False(LocalProcesses.IsNode(null, "/d/node1/data"));
        Assert.False(LocalProcesses.IsNode(Environment.ProcessId, "/d/node1/data")); // alive, but the test host, not a node
    }

    /// <summary>
    /// While `up` waits for readiness, a node counts as exited only when it is gone or runs another
    /// program. A process whose command line reads empty is mid-exec (setsid, sh, kv-node) and still
    /// starting: here a kernel thread (pid 2, kthreadd: alive, empty command line) stands for one.
    /// IsNode, which the startup check used, calls it not a node: the false "exited while the cluster
    /// was starting" seen under load.
    /// </summary>
    [Fact]
    public void A_starting_node_mid_exec_has_not_exited_but_a_gone_or_other_process_has()
    {
        Assert.Empty(File.ReadAllBytes("/proc/2/cmdline"));
        Assert.False(LocalProcesses.HasExited(2, "/d/node1/data"));
        Assert.False(LocalProcesses.IsNode(2, "/d/node1/data")); // the old check: taken for exited
        Assert.True(LocalProcesses.HasExited(Environment.ProcessId, "/d/node1/data")); // another program
        Assert.True(LocalProcesses.HasExited(null, "/d/node1/data"));
        Assert.True(LocalProcesses.HasExited(int.MaxValue, "/d/node1/data")); // no such process
    }

    [Fact]
    public void kv_node_is_found_next_to_kvctl_first_then_through_KV_NODE_BIN()
    {
        var beside = Path.Combine(_dir, "bin");
        var elsewhere = Path.Combine(_dir, "other", "kv-node");
        Directory.CreateDirectory(beside);
        Directory.CreateDirectory(Path.GetDirectoryName(elsewhere)!);
        File.WriteAllText(elsewhere, "#!/bin/sh\n");

        var fromVariable = LocalProcesses.FindNode(beside, elsewhere, out _);
        Assert.NotNull(fromVariable);
        Assert.Equal(elsewhere, fromVariable.FileName);

        File.WriteAllText(Path.Combine(beside, "kv-node.dll"), string.Empty);
        var nextToKvctl = LocalProcesses.FindNode(beside, elsewhere, out _);
        Assert.NotNull(nextToKvctl);
        Assert.Equal([Path.Combine(beside, "kv-node.dll")], nextToKvctl.PrefixArguments);

        Assert.Null(LocalProcesses.FindNode(Path.Combine(_dir, "empty"), null, out var problem));
        Assert.Contains("KV_NODE_BIN", problem, StringComparison.Ordinal);
        Assert.Null(LocalProcesses.FindNode(Path.Combine(_dir, "empty"), "/no/such/kv-node", out problem));
        Assert.Contains("/no/such/kv-node", problem, StringComparison.Ordinal);
    }
}
