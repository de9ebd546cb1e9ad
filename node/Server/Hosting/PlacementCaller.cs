using System.Collections.Concurrent;
using Grpc.Core;
using Kv.Client.Transport;
using Kv.Proto.V1;

namespace Kv.Node.Server.Hosting;

/// <summary>
/// The node's own calls to placement (heartbeats, id allocation): finds the leader among the
/// members, follows NOT_LEADER hints, retries UNAVAILABLE with backoff until the caller's token
/// fires. Other placement errors are the caller's to handle.
/// </summary>
/// <param name="members">The placement members' addresses.</param>
/// <param name="peer">The node's channel settings for peers (secure mode: its certificate, the cluster CA, the cluster id header); null for cleartext.</param>
internal sealed class PlacementCaller(IReadOnlyList<string> members, KvChannelOptions? peer = null) : IDisposable
{
    private readonly ConcurrentDictionary<string, NodeStubs> channels = new(StringComparer.OrdinalIgnoreCase);
    private int target; // index into members of the member tried first

    public async Task<TResponse> CallAsync<TRequest, TResponse>(Func<NodeStubs, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call, TRequest request, Func<TResponse, ResponseHeader?> header, CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            var i = Volatile.Read(ref target);
            var address = members[i % members.Count];
            try
            {
                var channel = channels.GetOrAdd(address, a => new NodeStubs(KvChannels.ForHostPort(a, (peer ?? new KvChannelOptions()) with { ConnectTimeout = TimeSpan.FromSeconds(2) })));
                var response = await call(channel, request, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(3), cancellationToken: ct)).ConfigureAwait(false);
                var error = header(response)?.Error;
                switch (error?.Code ?? PlacementErrorCode.PlacementErrorNone)
                {
                    case PlacementErrorCode.PlacementErrorNotLeader:
                        Volatile.Write(ref target, error!.Leader is { MemberId: > 0 } l && (int)l.MemberId <= members.Count ? (int)l.MemberId - 1 : i + 1);
                        break;
                    case PlacementErrorCode.PlacementErrorUnavailable:
                        break;
                    default:
                        return response;
                }
            }
            catch (RpcException) when (!ct.IsCancellationRequested)
            {
                Volatile.Write(ref target, i + 1);
            }
            catch (RpcException e) when (ct.IsCancellationRequested)
            {
                // The caller's token cut the call short: report it as the cancellation it is.
                throw new OperationCanceledException("the placement call was cancelled by the caller", e, ct);
            }

            await Task.Delay(delay, ct).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
        }
    }

    public void Dispose()
    {
        foreach (var c in channels.Values)
        {
            c.Dispose();
        }
    }
}
