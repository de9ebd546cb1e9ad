using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client;
using Kv.Client.Transport;
using Kv.Node.Placement.Operations;
using Kv.Proto.V1;

namespace Kv.Node.Server.Hosting;

/// <summary>RangeAdmin.ExecuteStep over gRPC, one channel per address (kept for the node's life).</summary>
/// <param name="peer">The node's channel settings for peers (secure mode: its node certificate and the cluster CA); null for cleartext.</param>
internal sealed class GrpcRangeStepCaller(KvChannelOptions? peer = null) : IRangeStepCaller, IDisposable
{
    private readonly ConcurrentDictionary<string, (GrpcChannel Channel, RangeAdmin.RangeAdminClient Client)> _clients = new(StringComparer.OrdinalIgnoreCase);

    public async Task<ExecuteStepResponse> ExecuteStepAsync(string address, ExecuteStepRequest request, CancellationToken ct)
    {
        var client = _clients.GetOrAdd(address, a =>
        {
            var channel = KvChannels.ForHostPort(a, peer);
            return (channel, new RangeAdmin.RangeAdminClient(channel));
        }).Client;
        return await client.ExecuteStepAsync(request, new CallOptions(cancellationToken: ct)).ConfigureAwait(false);
    }

    public void Dispose()
    {
        foreach (var (channel, _) in _clients.Values)
        {
            channel.Dispose();
        }
    }
}
