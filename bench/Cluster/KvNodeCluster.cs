using System.Diagnostics;
using Kv.Client.Cluster;

namespace Kv.Bench.Cluster;

/// <summary>
/// Three kv-node processes on 127.0.0.1 (<c>kv-node serve</c>, all three placement members), each
/// with its own data directory under the suite's temp directory and the node's default settings
/// (synced Raft log writes), bootstrapped once through the client (Placement.Bootstrap). The load
/// goes through one shared <see cref="KvClient"/>, as an application would use it: it routes every
/// put and linearizable get to the range's leader.
/// </summary>
internal sealed class KvNodeCluster : IBenchSystem
{
    private readonly List<ServerProcess> _servers;
    private readonly KvClient _client;

    private KvNodeCluster(List<ServerProcess> servers, KvClient client, IReadOnlyList<string> endpoints)
    {
        _servers = servers;
        _client = client;
        Endpoints = endpoints;
    }

    public string Name => "kv-node";

    public IReadOnlyList<ServerProcess> Servers => _servers;

    public IReadOnlyList<string> Endpoints { get; }

    /// <summary>The one client the load goes through; the transaction suite begins its transactions on it.</summary>
    public KvClient Client => _client;

    public static async Task<KvNodeCluster> StartAsync(string kvNodeDll, string directory, TimeSpan timeout)
    {
        if (!File.Exists(kvNodeDll))
        {
            throw new FileNotFoundException($"kv-node not found at {kvNodeDll}: build bench/Kv.Bench.csproj (it builds node/ beside it) or pass --kv-node PATH/kv-node.dll", kvNodeDll);
        }

        Directory.CreateDirectory(directory);
        var endpoints = Enumerable.Range(0, 3).Select(_ => $"127.0.0.1:{ServerProcess.FreePort()}").ToArray();
        var join = string.Join(',', endpoints);
        var servers = new List<ServerProcess>();
        KvClient? client = null;
        try
        {
            for (var i = 0; i < endpoints.Length; i++)
            {
                var data = Path.Combine(directory, $"n{i + 1}");
                Directory.CreateDirectory(data);
                servers.Add(ServerProcess.Start($"kv-node n{i + 1}", "dotnet",
                    [kvNodeDll, "serve", "--data-dir", data, "--listen", endpoints[i], "--join", join],
                    Path.Combine(directory, $"n{i + 1}.log")));
            }

            // Bootstrapped once (the client finds the placement leader), then ready: a put and a
            // linearizable get of a probe key succeed through the client.
            var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            client = KvClient.Connect(endpoints);
            var bootstrapped = false;
            var probe = "bench-probe"u8.ToArray();
            string? lastError = null;
            while (true)
            {
                ThrowIfExited(servers);
                try
                {
                    if (!bootstrapped)
                    {
                        var result = await client.BootstrapAsync();
                        Console.Error.WriteLine($"kv-node: {result.Message}");
                        bootstrapped = true;
                    }

                    await client.PutAsync(probe, probe);
                    if (await client.GetAsync(probe) is { } value && value.AsSpan().SequenceEqual(probe))
                    {
                        return new KvNodeCluster(servers, client, endpoints);
                    }

                    lastError = "the probe key read back wrong";
                }
                catch (KvException e)
                {
                    lastError = e.Message;
                }

                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException($"the kv-node cluster did not serve a put and get within {timeout.TotalSeconds:0} s (last: {lastError}); logs are in {directory}");
                }

                await Task.Delay(100);
            }
        }
        catch
        {
            if (client is not null)
            {
                await client.DisposeAsync();
            }

            foreach (var s in servers)
            {
                s.Dispose();
            }

            throw;
        }
    }

    public Task PutAsync(byte[] key, byte[] value, CancellationToken cancellationToken) =>
        _client.PutAsync(key, value, cancellationToken);

    public async Task<int> GetAsync(byte[] key, CancellationToken cancellationToken) =>
        await _client.GetAsync(key, cancellationToken) is { } value ? value.Length : -1;

    public async ValueTask DisposeAsync()
    {
        // Servers first: whatever the client does on disposal, no process is left running.
        foreach (var s in _servers)
        {
            s.Dispose();
        }

        await _client.DisposeAsync();
    }

    private static void ThrowIfExited(List<ServerProcess> servers)
    {
        if (servers.FirstOrDefault(s => s.HasExited) is { } dead)
        {
            throw new InvalidOperationException($"{dead.Name} exited; its log ({dead.LogPath}) ends with:\n{dead.LogTail()}");
        }
    }
}
