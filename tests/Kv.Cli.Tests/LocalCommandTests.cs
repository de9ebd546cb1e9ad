using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Kv.Cli.Local;
using Kv.Cli.Output;

namespace Kv.Cli.Tests;

/// <summary>
/// <c>kvctl local up|down|status</c> without a real cluster: refusals, port persistence, and the
/// process handling, with a stand-in kv-node (a shell script that records its arguments and
/// runs until signalled; it never answers RPCs, so up reaches its readiness deadline). Real
/// clusters are exercised by tests/system.
/// </summary>
public sealed class LocalCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kv-cli-tests", Guid.NewGuid().ToString("N"));
    private readonly string _dir;
    private readonly string _fakeNode;
    private readonly string _context;

    public LocalCommandTests()
    {
        _dir = Path.Combine(_root, "cluster");
        _context = Path.Combine(_root, "context.json");
        _fakeNode = Path.Combine(_root, "bin", "kv-node");
        Directory.CreateDirectory(Path.GetDirectoryName(_fakeNode)!);
        File.WriteAllText(_fakeNode, """
            #!/bin/sh
            echo "args: $*"
            trap 'echo "stopping on TERM"; exit 0' TERM
            while true; do sleep 0.1; done
            """.Replace("\r", string.Empty, StringComparison.Ordinal) + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_fakeNode, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    public void Dispose()
    {
        // Stop whatever a failed test left running, then remove the files.
        _ = LocalCluster.DownAsync(Options(), new StringWriter(), new StringWriter(), CancellationToken.None).GetAwaiter().GetResult();
        Directory.Delete(_root, recursive: true);
    }

    private LocalOptions Options(int? nodes = null, double timeoutSeconds = 1, OutputFormat output = OutputFormat.Table) => new()
    {
        Dir = _dir,
        Nodes = nodes,
        Timeout = TimeSpan.FromSeconds(timeoutSeconds),
        Output = output,
        ContextPath = _context,
        KvctlDirectory = Path.Combine(_root, "no-kv-node-here"),
        NodeBin = _fakeNode,
        WorkingDirectory = _root,
    };

    [Fact]
    public async Task Up_starts_detached_nodes_on_persisted_ports_writes_the_context_and_down_stops_them()
    {
        var ports = LocalPorts.PickFree(3);
        LocalClusterRecord.Save(_dir, LocalClusterRecord.Create(ports, DateTimeOffset.UnixEpoch));

        var stderr = new StringWriter();
        var code = await LocalCluster.UpAsync(Options(), new StringWriter(), stderr, CancellationToken.None);

        // The stand-in never answers, so up stops at its deadline, saying what is missing and where the logs are.
        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains("not ready after 1 s", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("kv-node.log", stderr.ToString(), StringComparison.Ordinal);

        var record = LocalClusterRecord.Load(_dir)!;
        Assert.Equal(ports, record.Nodes.Select(n => n.Port));
        Assert.All(record.Nodes, n => Assert.True(LocalProcesses.IsNode(n.Pid, LocalClusterRecord.DataDir(_dir, n.Id))));
        var join = string.Join(',', ports.Select(p => "127.0.0.1:" + p));
        Assert.Contains($"--listen 127.0.0.1:{ports[1]} --advertise 127.0.0.1:{ports[1]} --join {join}", File.ReadAllText(LocalClusterRecord.LogPath(_dir, 2)), StringComparison.Ordinal);

        var context = Kv.Cli.Context.KvctlContext.Load(_context)!;
        Assert.Equal(record.Endpoints(), context.Endpoints);
        Assert.Equal(_dir, context.LocalDir);

        var status = new StringWriter();
        Assert.Equal(ExitCodes.Ok, LocalCluster.Status(Options(output: OutputFormat.Json), status, new StringWriter()));
        using (var doc = JsonDocument.Parse(status.ToString()))
        {
            Assert.Equal("LocalClusterStatus", doc.RootElement.GetProperty("kind").GetString());
            Assert.True(doc.RootElement.GetProperty("running").GetBoolean());
            Assert.Equal(record.Nodes[0].Pid, doc.RootElement.GetProperty("nodes")[0].GetProperty("pid").GetInt32());
        }

        // A second up with the nodes running starts nothing new.
        await LocalCluster.UpAsync(Options(), new StringWriter(), new StringWriter(), CancellationToken.None);
        Assert.Equal(record.Nodes.Select(n => n.Pid), LocalClusterRecord.Load(_dir)!.Nodes.Select(n => n.Pid));

        var down = new StringWriter();
        Assert.Equal(ExitCodes.Ok, await LocalCluster.DownAsync(Options(timeoutSeconds: 20), down, new StringWriter(), CancellationToken.None));
        Assert.Contains($"node 3: stopped (pid {record.Nodes[2].Pid})", down.ToString(), StringComparison.Ordinal);
        Assert.All(record.Nodes, n => Assert.False(LocalProcesses.IsNode(n.Pid, LocalClusterRecord.DataDir(_dir, n.Id))));
        Assert.Contains("stopping on TERM", File.ReadAllText(LocalClusterRecord.LogPath(_dir, 1)), StringComparison.Ordinal);
        Assert.All(LocalClusterRecord.Load(_dir)!.Nodes, n => Assert.Null(n.Pid));
        Assert.Equal(ports, LocalClusterRecord.Load(_dir)!.Nodes.Select(n => n.Port)); // data and addresses survive down

        Assert.Equal(ExitCodes.Unavailable, LocalCluster.Status(Options(), new StringWriter(), new StringWriter()));
        Assert.Equal(ExitCodes.Ok, await LocalCluster.DownAsync(Options(), new StringWriter(), new StringWriter(), CancellationToken.None)); // idempotent
    }

    [Fact]
    public async Task Up_refuses_when_a_recorded_port_is_taken_naming_the_port_and_the_holder_and_starts_nothing()
    {
        var ports = LocalPorts.PickFree(3);
        LocalClusterRecord.Save(_dir, LocalClusterRecord.Create(ports, DateTimeOffset.UnixEpoch));
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, ports[2]));
        squatter.Listen();

        var stderr = new StringWriter();
        var code = await LocalCluster.UpAsync(Options(), new StringWriter(), stderr, CancellationToken.None);

        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains($"port {ports[2]} of node 3 is in use by pid {Environment.ProcessId}", stderr.ToString(), StringComparison.Ordinal);
        Assert.All(LocalClusterRecord.Load(_dir)!.Nodes, n => Assert.Null(n.Pid));
        Assert.False(File.Exists(_context));
    }

    [Fact]
    public async Task A_different_node_count_for_an_existing_cluster_is_a_usage_error_that_changes_nothing()
    {
        var record = LocalClusterRecord.Create(LocalPorts.PickFree(3), DateTimeOffset.UnixEpoch);
        LocalClusterRecord.Save(_dir, record);
        var before = File.ReadAllText(LocalClusterRecord.PathIn(_dir));

        var stderr = new StringWriter();
        Assert.Equal(ExitCodes.Usage, await LocalCluster.UpAsync(Options(nodes: 5), new StringWriter(), stderr, CancellationToken.None));

        Assert.Contains("has 3 nodes, not 5", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("kvctl local down", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(LocalClusterRecord.PathIn(_dir)));
    }

    [Fact]
    public async Task Node_directories_without_a_record_are_refused_rather_than_given_new_addresses()
    {
        Directory.CreateDirectory(LocalClusterRecord.DataDir(_dir, 1));

        var stderr = new StringWriter();
        Assert.Equal(ExitCodes.Failed, await LocalCluster.UpAsync(Options(), new StringWriter(), stderr, CancellationToken.None));

        Assert.Contains("no cluster.json", stderr.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(LocalClusterRecord.PathIn(_dir)));
    }

    [Fact]
    public async Task A_missing_kv_node_binary_is_a_clear_error()
    {
        var stderr = new StringWriter();
        var code = await LocalCluster.UpAsync(Options() with { NodeBin = null }, new StringWriter(), stderr, CancellationToken.None);

        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("kv-node was not found next to kvctl", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Down_and_status_without_a_cluster_say_so()
    {
        var stdout = new StringWriter();
        Assert.Equal(ExitCodes.Ok, await LocalCluster.DownAsync(Options(), stdout, new StringWriter(), CancellationToken.None));
        Assert.Contains("nothing to stop", stdout.ToString(), StringComparison.Ordinal);

        var stderr = new StringWriter();
        Assert.Equal(ExitCodes.Unavailable, LocalCluster.Status(Options(), new StringWriter(), stderr));
        Assert.Contains("kvctl local up", stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--nodes", "0")]
    [InlineData("--nodes", "10")]
    [InlineData("--timeout", "0")]
    [InlineData("--nodes", "three")]
    public void Bad_up_arguments_are_usage_errors(string option, string value)
    {
        var stderr = new StringWriter();
        var code = KvctlApp.Run(["local", "up", "--dir", _dir, option, value], new StringWriter(), stderr);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains(option, stderr.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(LocalClusterRecord.PathIn(_dir)));
    }

    [Fact]
    public void A_corrupt_record_fails_status_naming_the_file()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(LocalClusterRecord.PathIn(_dir), "[]");

        var stderr = new StringWriter();
        Assert.Equal(ExitCodes.Failed, KvctlApp.Run(["local", "status", "--dir", _dir], new StringWriter(), stderr));
        Assert.Contains(LocalClusterRecord.PathIn(_dir), stderr.ToString(), StringComparison.Ordinal);
    }
}
