using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Kv.Bench.Etcd;
using Kv.Client.Transport;

namespace Kv.Bench.Cluster;

/// <summary>
/// Three etcd members (Debian's etcd-server) on 127.0.0.1, each its own process with its data
/// directory under the suite's temp directory, started with etcd's defaults apart from the
/// addresses (in particular fsync stays on: etcd syncs its WAL before acknowledging, as our
/// nodes sync their Raft log). The load goes to the leader over one shared channel: that is
/// etcd's best case (a follower would forward writes and ReadIndex requests to the leader), and
/// the same as our client, which sends each request to its range's leader.
/// </summary>
internal sealed class EtcdCluster : IBenchSystem
{
    private readonly List<ServerProcess> _servers;
    private readonly GrpcChannel _channel;

    private EtcdCluster(List<ServerProcess> servers, GrpcChannel channel, string leaderEndpoint, string version)
    {
        _servers = servers;
        _channel = channel;
        KvStub = new KV.KVClient(channel);
        LeaderEndpoint = leaderEndpoint;
        Version = version;
    }

    public string Name => "etcd";

    public IReadOnlyList<ServerProcess> Servers => _servers;

    public string LeaderEndpoint { get; }

    /// <summary>The channel to the leader that <see cref="PutAsync"/> and <see cref="GetAsync"/> use; the transaction suite sends its Txn calls on it too.</summary>
    /// <summary>etcd's KV service on the leader, through the shared channel.</summary>
    public KV.KVClient KvStub { get; }

    public string Version { get; }

    public static async Task<EtcdCluster> StartAsync(string etcdBinary, string directory, TimeSpan timeout)
    {
        Directory.CreateDirectory(directory);
        var token = "kv-bench-" + Environment.ProcessId;
        var members = Enumerable.Range(1, 3)
            .Select(i => (Name: $"m{i}", Client: ServerProcess.FreePort(), Peer: ServerProcess.FreePort()))
            .ToArray();
        var initialCluster = string.Join(',', members.Select(m => $"{m.Name}=http://127.0.0.1:{m.Peer}"));
        var servers = new List<ServerProcess>();
        var channels = new List<GrpcChannel>();
        try
        {
            foreach (var m in members)
            {
                servers.Add(ServerProcess.Start($"etcd {m.Name}", etcdBinary,
                [
                    "--name", m.Name,
                    "--data-dir", Path.Combine(directory, m.Name),
                    "--listen-client-urls", $"http://127.0.0.1:{m.Client}",
                    "--advertise-client-urls", $"http://127.0.0.1:{m.Client}",
                    "--listen-peer-urls", $"http://127.0.0.1:{m.Peer}",
                    "--initial-advertise-peer-urls", $"http://127.0.0.1:{m.Peer}",
                    "--initial-cluster", initialCluster,
                    "--initial-cluster-state", "new",
                    "--initial-cluster-token", token,
                    "--logger", "zap",
                    "--log-outputs", "stderr",
                ], Path.Combine(directory, m.Name + ".log")));
                channels.Add(KvChannels.Create(new Uri($"http://127.0.0.1:{m.Client}")));
            }

            // Healthy: every member answers Status and they agree on a leader.
            var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            string? lastError = null;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                if (servers.FirstOrDefault(s => s.HasExited) is { } dead)
                {
                    throw new InvalidOperationException($"{dead.Name} exited while starting; its log ({dead.LogPath}) ends with:\n{dead.LogTail()}");
                }

                try
                {
                    var statuses = new StatusResponse[channels.Count];
                    for (var i = 0; i < channels.Count; i++)
                    {
                        statuses[i] = await new Maintenance.MaintenanceClient(channels[i]).StatusAsync(new StatusRequest(), new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(2)));
                    }

                    var leader = statuses[0].Leader;
                    var leaderIndex = Array.FindIndex(statuses, s => s.Header.MemberId == leader);
                    if (leader != 0 && leaderIndex >= 0 && statuses.All(s => s.Leader == leader))
                    {
                        for (var i = 0; i < channels.Count; i++)
                        {
                            if (i != leaderIndex)
                            {
                                channels[i].Dispose();
                            }
                        }

                        var endpoint = $"127.0.0.1:{members[leaderIndex].Client}";
                        return new EtcdCluster(servers, channels[leaderIndex], endpoint, statuses[leaderIndex].Version);
                    }

                    lastError = "no agreed leader yet";
                }
                catch (RpcException e)
                {
                    lastError = e.Message;
                }
                catch (HttpRequestException e)
                {
                    lastError = e.Message;
                }

                await Task.Delay(100);
            }

            throw new TimeoutException($"etcd did not become healthy within {timeout.TotalSeconds:0} s (last: {lastError}); logs are in {directory}");
        }
        catch
        {
            foreach (var c in channels)
            {
                c.Dispose();
            }

            foreach (var s in servers)
            {
                s.Dispose();
            }

            throw;
        }
    }

    public async Task PutAsync(byte[] key, byte[] value, CancellationToken cancellationToken)
    {
        var request = new PutRequest { Key = Google.Protobuf.UnsafeByteOperations.UnsafeWrap(key), Value = Google.Protobuf.UnsafeByteOperations.UnsafeWrap(value) };
        await KvStub.PutAsync(request, new CallOptions(cancellationToken: cancellationToken));
    }

    public async Task<int> GetAsync(byte[] key, CancellationToken cancellationToken)
    {
        // serializable = false (the default): linearizable.
        var request = new RangeRequest { Key = Google.Protobuf.UnsafeByteOperations.UnsafeWrap(key) };
        var response = await KvStub.RangeAsync(request, new CallOptions(cancellationToken: cancellationToken));
        return response.Kvs.Count == 0 ? -1 : response.Kvs[0].Value.Length;
    }

    public ValueTask DisposeAsync()
    {
        foreach (var s in _servers)
        {
            s.Dispose();
        }

        _channel.Dispose();

        return ValueTask.CompletedTask;
    }
}
