using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using Kv.Client.Transport;
using Kv.Node.Server.Configuration;
using Kv.Node.Server.Hosting;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Cluster;

/// <summary>
/// N real nodes (NodeHost: RocksDB, Raft, Kestrel on 127.0.0.1) in one test process. The
/// multi-process version with kill -9 lives in tests/system; this one is for fast, debuggable
/// checks of the node's wiring. Helpers talk to the nodes over the real RPC services only.
/// </summary>
internal sealed class InProcessCluster : IAsyncDisposable
{
    private readonly TempDirectory dir = new();
    private readonly int clusterId = TestLogFiles.NextClusterId();
    private readonly Dictionary<string, NodeStubs> channels = [];

    public InProcessCluster(int nodes, int placementMembers = 3)
    {
        Addresses = Enumerable.Range(0, nodes).Select(_ => $"127.0.0.1:{FreePort()}").ToArray();
        Join = Addresses.Take(Math.Min(placementMembers, nodes)).ToArray();
        Hosts = new NodeHost?[nodes];
    }

    public string[] Addresses { get; }

    public string[] Join { get; }

    public NodeHost?[] Hosts { get; }

    /// <summary>Adjusts node i's configuration before it starts (thresholds, limits); automatic splits and the scheduler are off unless a test turns them on.</summary>
    public Func<int, NodeConfig, NodeConfig>? Configure { get; set; }

    /// <summary>Settings of the helpers' channels (secure clusters: the CA and a client certificate); cleartext when null.</summary>
    public KvChannelOptions? ChannelOptions { get; set; }

    /// <summary>Runs on node i's host before it starts (test hooks).</summary>
    public Action<int, NodeHost>? BeforeStart { get; set; }

    public NodeConfig Config(int i)
    {
        var config = new NodeConfig
        {
            DataDir = dir.Sub($"n{i + 1}"),
            Listen = Addresses[i],
            MetricsAddr = "127.0.0.1:0",
            Join = Join,
            TickIntervalMs = 20,
            StoreHeartbeatIntervalMs = 100,
            StoreDownAfterMs = 2000,
            RangeSplitSizeMb = 0,
            RangeSplitQps = 0,
            // The scheduler would move replicas on its own (balance, replication factor) under
            // tests that place them by hand; tests of the scheduler turn it on.
            SchedulerIntervalMs = 3_600_000,
        };
        return Configure is null ? config : Configure(i, config);
    }

    public async Task StartAsync()
    {
        await Task.WhenAll(Enumerable.Range(0, Hosts.Length).Select(StartNodeAsync)).ConfigureAwait(false);
    }

    public async Task StartNodeAsync(int i)
    {
        var host = new NodeHost(Config(i), TestLogFiles.For(clusterId, i));
        BeforeStart?.Invoke(i, host);
        await host.StartAsync(CancellationToken.None).ConfigureAwait(false);
        Hosts[i] = host;
    }

    public async Task StopNodeAsync(int i)
    {
        if (Hosts[i] is { } h)
        {
            Hosts[i] = null;
            await h.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The generated stubs of the node at <paramref name="address"/>, over one shared channel.</summary>
    public NodeStubs Channel(string address)
    {
        lock (channels)
        {
            if (!channels.TryGetValue(address, out var c))
            {
                c = new NodeStubs(KvChannels.ForHostPort(address, ChannelOptions));
                channels[address] = c;
            }

            return c;
        }
    }

    /// <summary>Calls placement on every node in turn until one answers without NOT_LEADER/UNAVAILABLE.</summary>
    public async Task<TResponse> PlacementAsync<TRequest, TResponse>(Func<NodeStubs, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call, TRequest request, Func<TResponse, ResponseHeader> header, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        string last = "no attempt";
        while (DateTime.UtcNow < deadline)
        {
            for (var i = 0; i < Hosts.Length; i++)
            {
                if (Hosts[i] is null)
                {
                    continue;
                }

                try
                {
                    var r = await call(Channel(Addresses[i]), request, new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(2))).ConfigureAwait(false);
                    var code = header(r)?.Error?.Code ?? PlacementErrorCode.PlacementErrorNone;
                    if (code is not (PlacementErrorCode.PlacementErrorNotLeader or PlacementErrorCode.PlacementErrorUnavailable))
                    {
                        return r;
                    }

                    last = header(r).Error.Message;
                }
                catch (RpcException e)
                {
                    last = e.Message;
                }
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        throw new TimeoutException($"placement did not answer {typeof(TRequest).Name}: {last}");
    }

    /// <summary>Waits until range `rangeId` has a leader known to placement; returns its info.</summary>
    public async Task<RangeInfo> WaitForRangeLeaderAsync(ulong rangeId, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var r = await PlacementAsync(static (s, r, o) => s.Placement.GetRangeByIdAsync(r, o), new GetRangeByIdRequest { Header = new(), RangeId = rangeId }, x => x.Header).ConfigureAwait(false);
            if (r.Range?.Leader is { ReplicaId: > 0 } && r.Range.LeaderAddress.Length > 0)
            {
                return r.Range;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"range {rangeId} has no leader known to placement: {r}");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    /// <summary>Puts through the range's leader, following NotLeader hints until the deadline.</summary>
    public async Task PutAsync(string key, string value, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        var info = await WaitForRangeLeaderAsync(1).ConfigureAwait(false);
        var address = info.LeaderAddress;
        while (true)
        {
            RangeError? error;
            try
            {
                var r = await Channel(address).RawKv.PutAsync(new RawPutRequest
                {
                    Context = new RangeContext { RangeId = 1, Epoch = info.Range.Epoch },
                    Key = ByteString.CopyFromUtf8(key),
                    Value = ByteString.CopyFromUtf8(value),
                }, new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(3))).ConfigureAwait(false);
                error = r.Error;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled)
            {
                error = new RangeError { Message = e.Message };
            }

            if (error is null)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"put {key} failed: {error}");
            }

            address = error.NotLeader?.LeaderAddress is { Length: > 0 } hint ? hint : Addresses[Random.Shared.Next(Addresses.Length)];
            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    public async Task<RawGetResponse> GetAsync(string address, string key) =>
        await Channel(address).RawKv.GetAsync(new RawGetRequest
        {
            Context = new RangeContext { RangeId = 1, Epoch = new RangeEpoch { ConfVer = 1, Version = 1 } },
            Key = ByteString.CopyFromUtf8(key),
        }, new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(5))).ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        foreach (var c in channels.Values)
        {
            c.Dispose();
        }

        for (var i = 0; i < Hosts.Length; i++)
        {
            await StopNodeAsync(i).ConfigureAwait(false);
        }

        dir.Dispose();
    }

    /// <summary>
    /// A free loopback port below the ephemeral range: nodes are restarted on their old port, and
    /// a port from the ephemeral range may meanwhile become the local end of some outgoing
    /// connection (the same choice as kvctl's LocalPorts).
    /// </summary>
    private static int FreePort()
    {
        var ephemeralLow = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', ' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        while (true)
        {
            var port = Random.Shared.Next(Math.Max(10_000, ephemeralLow - 12_000), ephemeralLow);
            try
            {
                using var l = new TcpListener(IPAddress.Loopback, port);
                l.Start();
                return port;
            }
            catch (SocketException)
            {
            }
        }
    }
}

/// <summary>
/// In-process clusters run one at a time: side by side they compete for two cores, and a port
/// one releases (a node stopped to be restarted) could be picked by another.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InProcessClusterCollection
{
    public const string Name = "in-process clusters";
}
