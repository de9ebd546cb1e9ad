using Google.Protobuf;
using Grpc.Core;
using Kv.Client.Transport;
using Kv.Proto.V1;

namespace Kv.Cli.Local;

/// <summary>
/// Decides whether a local cluster is ready, and bootstraps it the first time: every placement
/// member answers, the placement group has a leader, the cluster is bootstrapped, every store is Up and
/// range 1 has a leader. Talks to kv.v1.Placement directly (the generated Placement stub),
/// following NOT_LEADER to the leader; it needs no routing beyond that.
/// </summary>
internal sealed class ClusterReadiness : IDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(2);
    private readonly IReadOnlyList<string> _endpoints;
    private readonly Dictionary<string, NodeStubs> _channels = new(StringComparer.Ordinal);
    private string? _leader; // the placement leader's address when known
    private readonly int _members; // the first _members endpoints are the placement members
    private bool _bootstrapSent;
    private readonly KvChannelOptions _channel;

    /// <param name="endpoints">Every node's address, the placement members first.</param>
    /// <param name="placementMembers">How many of the endpoints (the first ones) are placement members; null: all.</param>
    /// <param name="channel">TLS settings of a secure cluster (the CA and an admin certificate); null: cleartext.</param>
    public ClusterReadiness(IReadOnlyList<string> endpoints, int? placementMembers = null, KvChannelOptions? channel = null)
    {
        _channel = channel ?? new KvChannelOptions();
        _endpoints = endpoints;
        _members = Math.Clamp(placementMembers ?? endpoints.Count, 1, endpoints.Count);
    }

    /// <summary>The cluster id once learned.</summary>
    public string? ClusterId { get; private set; }

    /// <summary>True when the bootstrap call of this check created the cluster.</summary>
    public bool BootstrappedNow { get; private set; }

    /// <summary>One round of checks: null when ready, else the first condition not met (for the timeout message).</summary>
    public async Task<string?> CheckAsync(CancellationToken ct)
    {
        // 1. Every placement member answers (any placement answer, NOT_LEADER included, means it
        // serves). Not the other nodes: a new store that is not a member serves only once the
        // cluster is bootstrapped (it waits for its store id), so they are checked after, as
        // registered stores (step 4).
        foreach (var endpoint in _endpoints.Take(_members))
        {
            try
            {
                await Channel(endpoint).Placement.GetClusterInfoAsync(new GetClusterInfoRequest(), new CallOptions(deadline: DateTime.UtcNow + CallTimeout, cancellationToken: ct));
            }
            catch (RpcException e)
            {
                return $"node {endpoint} does not answer yet ({e.Status.Detail})";
            }
        }

        // 2. The placement group has a leader.
        // (NOT_BOOTSTRAPPED from the leader is an answer too: bootstrapped stays false.)
        var (info, why) = await CallLeaderAsync(static (s, r, o) => s.Placement.GetClusterInfoAsync(r, o), new GetClusterInfoRequest(), r => r.Header, ct, PlacementErrorCode.PlacementErrorNotBootstrapped);
        if (info is null)
        {
            return $"the placement group has no leader yet ({why})";
        }

        ClusterId = info.Header.ClusterId is { Length: > 0 } id ? id : ClusterId;

        // 3. Bootstrapped: the first up bootstraps; later ups find it done.
        if (!info.Bootstrapped)
        {
            if (_bootstrapSent)
            {
                return "the cluster is not bootstrapped yet (bootstrap was requested)";
            }

            var (boot, bootWhy) = await CallLeaderAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest(), r => r.Header, ct, PlacementErrorCode.PlacementErrorAlreadyBootstrapped);
            if (boot is null)
            {
                return $"the cluster could not be bootstrapped yet ({bootWhy})";
            }

            _bootstrapSent = true;
            BootstrappedNow = boot.Header.Error is null or { Code: PlacementErrorCode.PlacementErrorNone };
            ClusterId = boot.Header.ClusterId is { Length: > 0 } bootId ? bootId : ClusterId;
            return "the cluster was just bootstrapped; waiting for its stores and first range";
        }

        // 4. Every store registered and Up.
        var (stores, storesWhy) = await CallLeaderAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest(), r => r.Header, ct);
        if (stores is null)
        {
            return $"the stores could not be listed ({storesWhy})";
        }

        var up = stores.Stores.Count(s => s.State == StoreState.Up);
        if (stores.Stores.Count < _endpoints.Count || up < stores.Stores.Count)
        {
            return $"{up} of {_endpoints.Count} stores are Up ({stores.Stores.Count} registered)";
        }

        // 5. Range 1 (the range holding the empty key) has a leader.
        var (range, rangeWhy) = await CallLeaderAsync(static (s, r, o) => s.Placement.GetRangeAsync(r, o), new GetRangeRequest { Key = ByteString.Empty }, r => r.Header, ct);
        if (range is null)
        {
            return $"the first range is not known yet ({rangeWhy})";
        }

        if (range.Range?.Leader is null || range.Range.Leader.ReplicaId == 0)
        {
            return $"range {range.Range?.Range?.RangeId ?? 1} has no leader yet";
        }

        return null;
    }

    /// <summary>
    /// Calls the placement leader: the known one first, then every endpoint, following NOT_LEADER
    /// hints. Returns the response (with no error, or with one of the accepted codes) or why none came.
    /// </summary>
    private async Task<(TResponse? Response, string Why)> CallLeaderAsync<TRequest, TResponse>(
        Func<NodeStubs, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call, TRequest request, Func<TResponse, ResponseHeader?> header, CancellationToken ct, PlacementErrorCode accepted = PlacementErrorCode.PlacementErrorNone)
        where TResponse : class
    {
        var candidates = new List<string>();
        if (_leader is not null)
        {
            candidates.Add(_leader);
        }

        candidates.AddRange(_endpoints.Where(e => e != _leader));
        var why = "no endpoint answered";
        for (var i = 0; i < candidates.Count && i < 2 * _endpoints.Count + 1; i++)
        {
            var endpoint = candidates[i];
            TResponse response;
            try
            {
                response = await call(Channel(endpoint), request, new CallOptions(deadline: DateTime.UtcNow + CallTimeout, cancellationToken: ct));
            }
            catch (RpcException e)
            {
                why = $"{endpoint}: {e.Status.StatusCode} {e.Status.Detail}";
                continue;
            }

            var error = header(response)?.Error;
            if (error is null || error.Code == PlacementErrorCode.PlacementErrorNone || error.Code == accepted)
            {
                _leader = endpoint;
                return (response, string.Empty);
            }

            why = $"{endpoint}: {error.Code} {error.Message}";
            if (error.Code == PlacementErrorCode.PlacementErrorNotLeader && error.Leader is { MemberId: > 0, Address.Length: > 0 } leader
                && !candidates.Skip(i + 1).Take(1).Contains(leader.Address))
            {
                candidates.Insert(i + 1, leader.Address);
            }
        }

        _leader = null;
        return (null, why);
    }

    private NodeStubs Channel(string endpoint)
    {
        if (!_channels.TryGetValue(endpoint, out var channel))
        {
            channel = new NodeStubs(KvChannels.ForHostPort(endpoint, _channel with { ConnectTimeout = CallTimeout }));
            _channels.Add(endpoint, channel);
        }

        return channel;
    }

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
    }
}
