using Google.Protobuf;
using Grpc.Core;
using Kv.Client.Transport;
using Kv.Proto.V1;

namespace Kv.System.Tests.Cluster;

/// <summary>
/// The system tests' view of a cluster over the wire, for what KvClient does not expose and for
/// checks independent of it: whether one given node answers, which node leads the placement
/// group or a range, bootstrap during readiness, a few raw puts/gets and lock scans routed to range
/// leaders, retried with backoff until a deadline. Written against the wire contracts (GrpcChannel +
/// client/Contracts); it does what any gRPC client of these services would. The load itself
/// (writers, TSO clients, final reads) goes through KvClient.
/// One probe per simulated client (not thread-safe): it keeps its own channels and route.
/// </summary>
public sealed class ClusterProbe : IDisposable
{
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(2);
    private readonly IReadOnlyList<string> _endpoints;
    private readonly Dictionary<string, NodeStubs> _channels = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private string? _placementLeader;
    private RangeInfo? _route; // the range of the last key called (looked up again for a key it does not hold)
    private string? _rangeLeader;

    private readonly KvChannelOptions _channel;

    /// <param name="endpoints">The nodes' addresses.</param>
    /// <param name="channel">TLS settings of a secure cluster (CA and client certificate); null: cleartext.</param>
    public ClusterProbe(IReadOnlyList<string> endpoints, KvChannelOptions? channel = null)
    {
        _endpoints = endpoints;
        _channel = channel ?? new KvChannelOptions();
    }

    /// <summary>The last error a call met before it succeeded or gave up (for messages).</summary>
    public string LastError { get; private set; } = string.Empty;

    /// <summary>Calls the placement leader, following NOT_LEADER and retrying until the deadline; throws TimeoutException naming the last error.</summary>
    public async Task<TResponse> PlacementAsync<TRequest, TResponse>(Func<NodeStubs, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call, TRequest request, Func<TResponse, ResponseHeader?> header, DateTime deadline, CancellationToken ct = default)
    {
        var attempt = 0;
        while (true)
        {
            var endpoint = _placementLeader ?? _endpoints[attempt % _endpoints.Count];
            try
            {
                var response = await call(Channel(endpoint), request, Options(deadline, ct));
                var error = header(response)?.Error;
                if (error is null || error.Code == PlacementErrorCode.PlacementErrorNone)
                {
                    _placementLeader = endpoint;
                    return response;
                }

                LastError = $"{endpoint}: {error.Code} {error.Message}";
                _placementLeader = error.Code == PlacementErrorCode.PlacementErrorNotLeader && error.Leader is { MemberId: > 0, Address.Length: > 0 } leader && leader.Address != endpoint
                    ? leader.Address
                    : null;
                if (error.Code is not (PlacementErrorCode.PlacementErrorNotLeader or PlacementErrorCode.PlacementErrorUnavailable or PlacementErrorCode.PlacementErrorNotBootstrapped))
                {
                    throw new InvalidOperationException($"placement refused {typeof(TRequest).Name}: {LastError}");
                }
            }
            catch (RpcException e)
            {
                LastError = $"{endpoint}: {e.StatusCode} {e.Status.Detail}";
                _placementLeader = null;
            }

            attempt++;
            await BackoffAsync(attempt, deadline, typeof(TRequest).Name, ct);
        }
    }

    /// <summary>Whether the node at endpoint serves RPCs now (any placement answer, NOT_LEADER included).</summary>
    public async Task<bool> AnswersAsync(string endpoint, CancellationToken ct = default)
    {
        try
        {
            await Channel(endpoint).Placement.GetClusterInfoAsync(new GetClusterInfoRequest(), Options(DateTime.UtcNow + AttemptTimeout, ct));
            return true;
        }
        catch (RpcException e)
        {
            LastError = $"{endpoint}: {e.StatusCode} {e.Status.Detail}";
            return false;
        }
    }

    public async Task<GetClusterInfoResponse> ClusterInfoAsync(DateTime deadline, CancellationToken ct = default) =>
        await PlacementAsync(static (s, r, o) => s.Placement.GetClusterInfoAsync(r, o), new GetClusterInfoRequest(), r => r.Header, deadline, ct);

    /// <summary>The range holding key, as the placement directory knows it.</summary>
    public async Task<RangeInfo> RangeAsync(ReadOnlyMemory<byte> key, DateTime deadline, CancellationToken ct = default) =>
        (await PlacementAsync(static (s, r, o) => s.Placement.GetRangeAsync(r, o), new GetRangeRequest { Key = ByteString.CopyFrom(key.Span) }, r => r.Header, deadline, ct)).Range;

    /// <summary>One timestamp from the TSO.</summary>
    public async Task<ulong> TimestampAsync(DateTime deadline, CancellationToken ct = default) =>
        (await PlacementAsync(static (s, r, o) => s.Placement.GetTimestampAsync(r, o), new GetTimestampRequest { Count = 1 }, r => r.Header, deadline, ct)).Last;

    /// <summary>A raw put, retried (raw puts are idempotent) until acknowledged or the deadline; true once acknowledged.</summary>
    public async Task PutAsync(byte[] key, byte[] value, DateTime deadline, CancellationToken ct = default)
    {
        var request = new RawPutRequest { Key = ByteString.CopyFrom(key), Value = ByteString.CopyFrom(value) };
        await RangeCallAsync(static (s, r, o) => s.RawKv.PutAsync(r, o), request, (r, c) => r.Context = c, r => r.Error, key, deadline, ct);
    }

    /// <summary>A linearizable raw get; null when the key does not exist.</summary>
    public async Task<byte[]?> GetAsync(byte[] key, DateTime deadline, CancellationToken ct = default)
    {
        var request = new RawGetRequest { Key = ByteString.CopyFrom(key) };
        var response = await RangeCallAsync(static (s, r, o) => s.RawKv.GetAsync(r, o), request, (r, c) => r.Context = c, r => r.Error, key, deadline, ct);
        return response.Found ? response.Value.ToByteArray() : null;
    }

    /// <summary>
    /// Every transaction's lock on key, read with TxnKv ScanLock from the leader of the range
    /// holding it (a ReadIndex read): looks only, resolves nothing.
    /// </summary>
    public async Task<IReadOnlyList<LockInfo>> LocksAsync(byte[] key, DateTime deadline, CancellationToken ct = default)
    {
        var request = new ScanLockRequest { MaxVersion = ulong.MaxValue, StartKey = ByteString.CopyFrom(key), EndKey = ByteString.CopyFrom([.. key, 0]) };
        var response = await RangeCallAsync(static (s, r, o) => s.TxnKv.ScanLockAsync(r, o), request, (r, c) => r.Context = c, r => r.RangeError, key, deadline, ct);
        return response.Locks;
    }

    private async Task<TResponse> RangeCallAsync<TRequest, TResponse>(Func<NodeStubs, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call, TRequest request, Action<TRequest, RangeContext> setContext, Func<TResponse, RangeError?> error, byte[] key, DateTime deadline, CancellationToken ct)
    {
        var attempt = 0;
        while (true)
        {
            attempt++;
            if (_route is null || !Holds(_route.Range, key))
            {
                _route = await RangeAsync(key, deadline, ct);
                _rangeLeader = _route.LeaderAddress is { Length: > 0 } a ? a : null;
            }

            var endpoint = _rangeLeader ?? _endpoints[attempt % _endpoints.Count];
            setContext(request, new RangeContext { RangeId = _route.Range.RangeId, Epoch = _route.Range.Epoch });
            try
            {
                var response = await call(Channel(endpoint), request, Options(deadline, ct));
                var e = error(response);
                if (e is null)
                {
                    return response;
                }

                LastError = $"{endpoint}: {e.DetailCase} {e.Message}";
                switch (e.DetailCase)
                {
                    case RangeError.DetailOneofCase.NotLeader when e.NotLeader.LeaderAddress is { Length: > 0 } hint && hint != endpoint:
                        _rangeLeader = hint;
                        continue; // follow the hint at once
                    case RangeError.DetailOneofCase.NotLeader:
                    case RangeError.DetailOneofCase.RangeUnavailable:
                        _rangeLeader = null;
                        break;
                    default:
                        _route = null; // stale epoch, wrong store, wrong range: ask placement again
                        _rangeLeader = null;
                        break;
                }
            }
            catch (RpcException e) when (e.StatusCode != StatusCode.InvalidArgument)
            {
                LastError = $"{endpoint}: {e.StatusCode} {e.Status.Detail}";
                _route = null;
                _rangeLeader = null;
            }

            await BackoffAsync(attempt, deadline, typeof(TRequest).Name, ct);
        }
    }

    private static bool Holds(RangeDescriptor range, byte[] key) =>
        key.AsSpan().SequenceCompareTo(range.StartKey.Span) >= 0 && (range.EndKey.IsEmpty || key.AsSpan().SequenceCompareTo(range.EndKey.Span) < 0);

    private async Task BackoffAsync(int attempt, DateTime deadline, string what, CancellationToken ct)
    {
        var remaining = deadline - DateTime.UtcNow;
        if (remaining <= TimeSpan.Zero)
        {
            throw new TimeoutException($"{what} did not succeed before its deadline; last error: {LastError}");
        }

        var cap = Math.Min(500, 10 << Math.Min(attempt, 6));
        var delay = TimeSpan.FromMilliseconds(Random.Shared.Next(cap / 2, cap + 1));
        await Task.Delay(delay < remaining ? delay : remaining, ct);
    }

    private static CallOptions Options(DateTime deadline, CancellationToken ct)
    {
        var attemptDeadline = DateTime.UtcNow + AttemptTimeout;
        return new CallOptions(deadline: attemptDeadline < deadline ? attemptDeadline : deadline, cancellationToken: ct);
    }

    private NodeStubs Channel(string endpoint)
    {
        lock (_lock)
        {
            if (!_channels.TryGetValue(endpoint, out var channel))
            {
                channel = new NodeStubs(KvChannels.ForHostPort(endpoint, _channel with { ConnectTimeout = AttemptTimeout }));
                _channels.Add(endpoint, channel);
            }

            return channel;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var channel in _channels.Values)
            {
                channel.Dispose();
            }
        }
    }
}
