using System.Globalization;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Transport;
using Kv.Proto.V1;
using Xunit.Abstractions;

namespace Kv.System.Tests.Cluster;

/// <summary>
/// A cluster of real kv-node processes on 127.0.0.1 for fault tests: start, kill -9, restart
/// and stop nodes one by one, and find the leaders. Node i (1-based) listens on its own port,
/// keeps its data in DIR/nodeI/data and its log in DIR/nodeI/kv-node.log; every node is a
/// placement member (--join lists all of them, in order), so node i's store id and member id
/// are i. Short ticks keep elections quick. On dispose every node is killed, the end of each
/// log goes to the test output, and the directory is removed.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    public const int TickIntervalMs = 50;
    private readonly ITestOutputHelper _output;
    private readonly NodeProcess?[] _nodes;
    private readonly int[] _ports;

    public TestCluster(ITestOutputHelper output, int nodes = 3)
        : this(output, PickFreePorts(nodes))
    {
    }

    /// <summary>A cluster on the given ports (another cluster's, stopped: same addresses, different data).</summary>
    public TestCluster(ITestOutputHelper output, IReadOnlyList<int> ports)
    {
        _output = output;
        Dir = Path.Combine(Path.GetTempPath(), "kv-system-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
        _nodes = new NodeProcess?[ports.Count];
        _ports = [.. ports];
    }

    public IReadOnlyList<int> Ports => _ports;

    /// <summary>More kv-node arguments for every node (a secure cluster's --tls-* flags).</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>The TLS settings of the probe and clients this class makes (a secure cluster: CA and admin certificate); null: cleartext.</summary>
    public KvChannelOptions? Channel { get; init; }

    public string Dir { get; }

    public int Count => _nodes.Length;

    public IReadOnlyList<string> Endpoints => [.. _ports.Select(Address)];

    public string JoinList => string.Join(',', Endpoints);

    public string AddressOf(int node) => Address(_ports[node - 1]);

    public string DataDir(int node) => Path.Combine(Dir, "node" + node.ToString(CultureInfo.InvariantCulture), "data");

    public string LogPath(int node) => Path.Combine(Dir, "node" + node.ToString(CultureInfo.InvariantCulture), "kv-node.log");

    public NodeProcess? Node(int node) => _nodes[node - 1];

    /// <summary>
    /// kv-node's arguments for node i, with an optional different --join or --data-dir (bad-input tests).
    /// The metrics listener takes any free port: its default (listen port + 20) is not among the
    /// ports picked free, and on a shared machine another process held it, so a node failed to start.
    /// </summary>
    public IReadOnlyList<string> Arguments(int node, string? join = null, string? dataDir = null) =>
    [
        "serve", "--data-dir", dataDir ?? DataDir(node), "--listen", AddressOf(node), "--advertise", AddressOf(node),
        "--join", join ?? JoinList, "--tick-interval-ms", TickIntervalMs.ToString(CultureInfo.InvariantCulture),
        "--metrics-addr", "127.0.0.1:0", .. ExtraArguments,
    ];

    /// <summary>Starts node i (it must not be running).</summary>
    public NodeProcess Start(int node, string? join = null, string? dataDir = null)
    {
        if (_nodes[node - 1] is { } previous)
        {
            if (!previous.HasExited)
            {
                throw new InvalidOperationException($"node {node} is running");
            }

            previous.DisposeAsync().AsTask().GetAwaiter().GetResult(); // exited: only closes its log
        }

        Directory.CreateDirectory(Path.GetDirectoryName(DataDir(node))!);
        var process = NodeProcess.Start(Arguments(node, join, dataDir), LogPath(node));
        _nodes[node - 1] = process;
        return process;
    }

    public void StartAll()
    {
        for (var i = 1; i <= Count; i++)
        {
            Start(i);
        }
    }

    public async Task KillAsync(int node)
    {
        _output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} kill -9 node {node}");
        await (_nodes[node - 1] ?? throw new InvalidOperationException($"node {node} was never started")).KillAsync();
    }

    public async Task StopAllAsync()
    {
        foreach (var node in _nodes)
        {
            if (node is not null)
            {
                await node.StopAsync(TimeSpan.FromSeconds(20));
            }
        }
    }

    public ClusterProbe Probe() => new(Endpoints, Channel);

    /// <summary>A Kv.Client cluster client of this cluster; requestTimeout bounds each operation, retries included.</summary>
    public KvClient Client(TimeSpan requestTimeout) => KvClient.Connect(Endpoints, new KvClientOptions { RequestTimeout = requestTimeout, Channel = Channel });

    /// <summary>An admin client (operations) for the cluster; each call, and each reconnection of a watch, has requestTimeout.</summary>
    public KvAdminClient Admin(TimeSpan requestTimeout) => KvAdminClient.Connect(Endpoints, new KvClientOptions { RequestTimeout = requestTimeout, Channel = Channel }, who: "system-tests");

    /// <summary>
    /// Waits until every running node answers, bootstraps (first time), and waits until every store is Up and range 1
    /// has a leader; fails naming the unmet condition at the deadline. Returns the cluster id.
    /// </summary>
    public async Task<string> WaitReadyAsync(TimeSpan timeout, int expectedStoresUp = -1)
    {
        expectedStoresUp = expectedStoresUp < 0 ? Count : expectedStoresUp;
        var deadline = DateTime.UtcNow + timeout;
        using var probe = Probe();
        for (var i = 1; i <= Count; i++)
        {
            if (_nodes[i - 1] is { HasExited: false })
            {
                var node = i;
                await Eventually.TrueAsync(async () => (await probe.AnswersAsync(AddressOf(node)), $"node {node} does not answer: {probe.LastError}"), deadline);
            }
        }

        // Bootstrap is once per cluster; on a later start it answers ALREADY_BOOTSTRAPPED, which is fine.
        var boot = await probe.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest(), r => r.Header.Error?.Code == PlacementErrorCode.PlacementErrorAlreadyBootstrapped ? null : r.Header, deadline);
        _output.WriteLine($"cluster {boot.Header.ClusterId}: {(boot.FirstRange is null ? "already bootstrapped" : "bootstrapped now")}");

        await Eventually.TrueAsync(async () =>
        {
            var stores = await probe.PlacementAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest(), r => r.Header, deadline);
            var up = stores.Stores.Count(s => s.State == StoreState.Up);
            return (up >= expectedStoresUp, $"{up} of {expectedStoresUp} stores Up");
        }, deadline);
        await Eventually.TrueAsync(async () =>
        {
            var range = await probe.RangeAsync(ReadOnlyMemory<byte>.Empty, deadline);
            return (range.Leader is { StoreId: > 0 }, "range 1 has no leader");
        }, deadline);
        return boot.Header.ClusterId;
    }

    /// <summary>The node whose store holds range 1's leader (as placement last heard), waiting until one is known.</summary>
    public async Task<int> RangeLeaderNodeAsync(ClusterProbe probe, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var node = 0;
        await Eventually.TrueAsync(async () =>
        {
            var range = await probe.RangeAsync(ReadOnlyMemory<byte>.Empty, deadline);
            node = (int)(range.Leader?.StoreId ?? 0);
            return (node > 0 && _nodes[node - 1] is { HasExited: false }, "range 1's leader is unknown or on a stopped node");
        }, deadline);
        return node;
    }

    /// <summary>The node leading the placement group.</summary>
    public async Task<int> PlacementLeaderNodeAsync(ClusterProbe probe, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var node = 0;
        await Eventually.TrueAsync(async () =>
        {
            var info = await probe.ClusterInfoAsync(deadline);
            node = (int)(info.Leader?.MemberId ?? 0);
            return (node > 0 && _nodes[node - 1] is { HasExited: false }, "the placement leader is unknown or on a stopped node");
        }, deadline);
        return node;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < _nodes.Length; i++)
        {
            if (_nodes[i] is { } node)
            {
                await node.DisposeAsync();
            }

            var log = LogPath(i + 1);
            if (File.Exists(log))
            {
                _output.WriteLine($"---- node {i + 1} log (last 25 lines of {log})");
                foreach (var line in File.ReadLines(log).TakeLast(25))
                {
                    _output.WriteLine(line);
                }
            }
        }

        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // leave it for the temp cleaner
        }
    }

    private static string Address(int port) => "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);

    // Below the ephemeral range: nodes are restarted on their old ports after kill -9 (see LocalPorts).
    private static int[] PickFreePorts(int n) => [.. Kv.Cli.Local.LocalPorts.PickFree(n)];
}

/// <summary>Waiting on a condition with a deadline (no fixed sleeps), polling it.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<Task<(bool Ok, string Why)>> condition, DateTime deadline)
    {
        var why = "not checked";
        while (true)
        {
            try
            {
                (var ok, why) = await condition();
                if (ok)
                {
                    return;
                }
            }
            catch (TimeoutException e)
            {
                why = e.Message;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"condition not met by the deadline: {why}");
            }

            await Task.Delay(50);
        }
    }

    public static Task TrueAsync(Func<(bool Ok, string Why)> condition, DateTime deadline) =>
        TrueAsync(() => Task.FromResult(condition()), deadline);
}
