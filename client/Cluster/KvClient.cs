using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Kv.Client.Transport;
using Kv.Proto.V1;

namespace Kv.Client.Cluster;

/// <summary>
/// The cluster client: finds the placement leader, routes raw key-value requests to range
/// leaders through a route cache, retries what the servers' errors say to retry (with full
/// jitter backoff) and batches timestamp requests. Thread-safe; share one per process.
/// Every logical operation is bounded by <see cref="KvClientOptions.RequestTimeout"/>, retries
/// included; when it passes the operation fails with <see cref="KvErrorKind.Unavailable"/>,
/// naming the endpoints tried and the last error. Cancelling the token ends an operation with
/// OperationCanceledException.
/// </summary>
public sealed partial class KvClient : IAsyncDisposable
{
    private readonly KvClientOptions _options;
    private readonly ChannelPool _channels;
    private readonly PlacementClient _placement;
    private readonly RouteCache _routes = new();

    // Store id -> "host:port", from ListStores and leader hints.
    private readonly ConcurrentDictionary<ulong, string> _storeAddresses = new();
    private readonly TimestampBatcher _timestamps;
    private readonly Func<double> _random;
    private readonly CancellationTokenSource _disposed = new();
    private int _disposeStarted;

    private KvClient(IReadOnlyList<string> endpoints, KvClientOptions options)
    {
        _options = options;
        Endpoints = endpoints;
        _channels = new ChannelPool(options.Channel);
        _placement = new PlacementClient(_channels, endpoints);
        _timestamps = new TimestampBatcher(FetchTimestampsAsync, options.MaxTimestampBatch);
        _random = Backoff.Jitter(options.RandomSeed);
    }

    /// <summary>The endpoints given to <see cref="Connect"/>, normalized to host:port.</summary>
    public IReadOnlyList<string> Endpoints { get; }

    /// <summary>The cluster id learned from placement; null until a placement response carried one.</summary>
    public string? ClusterId => _placement.ClusterId is { Length: > 0 } id ? id : null;

    /// <summary>The placement leader's address as last learned, or null.</summary>
    public string? PlacementLeader => _placement.Leader;

    internal RouteCache Routes => _routes;

    /// <summary>
    /// A client for the cluster reachable at any of <paramref name="endpoints"/> ("host:port"; an
    /// http:// prefix is accepted). Does no I/O: the first operation finds the leaders. Throws
    /// ArgumentException for a malformed endpoint or option.
    /// </summary>
    public static KvClient Connect(IReadOnlyList<string> endpoints, KvClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.Count == 0)
        {
            throw new ArgumentException("at least one endpoint (host:port) is needed", nameof(endpoints));
        }

        options ??= new KvClientOptions();
        options.Validate();
        var normalized = new List<string>(endpoints.Count);
        foreach (var endpoint in endpoints)
        {
            var e = ChannelPool.Normalize(endpoint);
            if (!normalized.Contains(e))
            {
                normalized.Add(e);
            }
        }

        return new KvClient(normalized, options);
    }

    /// <summary>Bootstraps the cluster once; an already bootstrapped cluster is a result (AlreadyBootstrapped), not an error.</summary>
    public async Task<BootstrapResult> BootstrapAsync(CancellationToken cancellationToken = default)
    {
        var op = NewOperation("bootstrap the cluster", cancellationToken);
        var response = await _placement.CallAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), h => new BootstrapRequest { Header = h }, r => r.Header, op,
            accept: PlacementErrorCode.PlacementErrorAlreadyBootstrapped).ConfigureAwait(false);
        if (response.Header?.Error is { Code: PlacementErrorCode.PlacementErrorAlreadyBootstrapped } error)
        {
            var id = response.Header.ClusterId is { Length: > 0 } c ? c : _placement.ClusterId;
            if (id.Length == 0)
            {
                id = (await GetClusterInfoAsync(cancellationToken).ConfigureAwait(false)).Header?.ClusterId ?? string.Empty;
            }

            return new BootstrapResult(true, id, null, $"already bootstrapped (cluster id {id})" + (error.Message.Length > 0 ? $": {error.Message}" : string.Empty));
        }

        var clusterId = response.Header?.ClusterId is { Length: > 0 } cid ? cid : _placement.ClusterId;
        return new BootstrapResult(false, clusterId, response.FirstRange, $"bootstrapped cluster {clusterId}");
    }

    public async Task<GetClusterInfoResponse> GetClusterInfoAsync(CancellationToken cancellationToken = default)
    {
        var op = NewOperation("read the cluster info", cancellationToken);
        return await _placement.CallAsync(static (s, r, o) => s.Placement.GetClusterInfoAsync(r, o), h => new GetClusterInfoRequest { Header = h }, r => r.Header, op).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<StoreInfo>> ListStoresAsync(CancellationToken cancellationToken = default) =>
        await ListStoresAsync(NewOperation("list the stores", cancellationToken)).ConfigureAwait(false);

    /// <summary>Every range, ascending by start key (warms the route cache).</summary>
    public async Task<IReadOnlyList<RangeInfo>> ListRangesAsync(CancellationToken cancellationToken = default)
    {
        var op = NewOperation("list the ranges", cancellationToken);
        var response = await _placement.CallAsync(static (s, r, o) => s.Placement.ScanRangesAsync(r, o),
            h => new ScanRangesRequest { Header = h }, r => r.Header, op).ConfigureAwait(false);
        foreach (var info in response.Ranges)
        {
            Remember(info);
        }

        return response.Ranges;
    }

    /// <summary>The range with this id, or null when placement does not know it.</summary>
    public async Task<RangeInfo?> GetRangeAsync(ulong rangeId, CancellationToken cancellationToken = default)
    {
        var op = NewOperation($"read range {rangeId}", cancellationToken);
        try
        {
            var response = await _placement.CallAsync(static (s, r, o) => s.Placement.GetRangeByIdAsync(r, o),
                h => new GetRangeByIdRequest { Header = h, RangeId = rangeId }, r => r.Header, op).ConfigureAwait(false);
            return response.Range;
        }
        catch (KvException e) when (e.Kind == KvErrorKind.NotFound)
        {
            return null;
        }
    }

    /// <summary>The value of key, or null when the key does not exist. Linearizable.</summary>
    public async Task<byte[]?> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default)
    {
        var k = KeyOf(key, nameof(key));
        var op = NewOperation("get a key", cancellationToken);
        var (response, _) = await RangeCallAsync(static (s, r, o) => s.RawKv.GetAsync(r, o),
            r => new RawGetRequest { Context = r.Context, Key = k }, r => r.Error, o => LocateAsync(k, o), op).ConfigureAwait(false);
        return response.Found ? response.Value.ToByteArray() : null;
    }

    /// <summary>
    /// Writes key = value (raw KV); returns once committed by a quorum and applied on the leader.
    /// Raw keys are a keyspace apart from transactional keys (<see cref="BeginAsync"/>, kvctl's
    /// kv verbs): a raw write is invisible to transactions and the other way round.
    /// </summary>
    public async Task PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        var k = KeyOf(key, nameof(key));
        var v = ByteString.CopyFrom(value.Span);
        var op = NewOperation("put a key", cancellationToken);
        await RangeCallAsync(static (s, r, o) => s.RawKv.PutAsync(r, o),
            r => new RawPutRequest { Context = r.Context, Key = k, Value = v }, r => r.Error, o => LocateAsync(k, o), op).ConfigureAwait(false);
    }

    /// <summary>Deletes key (deleting a missing key succeeds).</summary>
    public async Task DeleteAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default)
    {
        var k = KeyOf(key, nameof(key));
        var op = NewOperation("delete a key", cancellationToken);
        await RangeCallAsync(static (s, r, o) => s.RawKv.DeleteAsync(r, o),
            r => new RawDeleteRequest { Context = r.Context, Key = k }, r => r.Error, o => LocateAsync(k, o), op).ConfigureAwait(false);
    }

    /// <summary>
    /// Pairs with keys in [start, end) (an empty end means to the end of the key space), across
    /// range boundaries: ascending from start, or with <paramref name="reverse"/> descending from
    /// just below end. At most <paramref name="limit"/> pairs; 0 means no limit. The scan is not a
    /// snapshot: each range (and each page of a range) is read linearizably on its own.
    /// </summary>
    public async Task<IReadOnlyList<KvPair>> ScanAsync(ReadOnlyMemory<byte> start, ReadOnlyMemory<byte> end, int limit, bool reverse, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        var results = new List<KvPair>();
        if (!end.IsEmpty && start.Span.SequenceCompareTo(end.Span) >= 0)
        {
            return results;
        }

        var startKey = ByteString.CopyFrom(start.Span);
        var endKey = ByteString.CopyFrom(end.Span);
        var op = NewOperation("scan keys", cancellationToken);
        var cursor = reverse ? endKey : startKey; // forward: inclusive lower bound; reverse: exclusive upper bound
        while (limit == 0 || results.Count < limit)
        {
            var want = limit == 0 ? 0u : (uint)(limit - results.Count);
            var c = cursor;
            var (response, route) = reverse
                ? await RangeCallAsync(static (s, r, o) => s.RawKv.ScanAsync(r, o),
                    r => new RawScanRequest { Context = r.Context, StartKey = startKey, EndKey = c, Limit = want, Reverse = true },
                    r => r.Error, o => LocateBeforeAsync(startKey, c, o), op).ConfigureAwait(false)
                : await RangeCallAsync(static (s, r, o) => s.RawKv.ScanAsync(r, o),
                    r => new RawScanRequest { Context = r.Context, StartKey = c, EndKey = endKey, Limit = want },
                    r => r.Error, o => LocateAsync(c, o), op).ConfigureAwait(false);
            results.AddRange(response.Pairs);
            if (NextScanCursor(route, response.Pairs, response.More, startKey, endKey, reverse) is not { } next)
            {
                break;
            }

            cursor = next;
        }

        if (limit > 0 && results.Count > limit)
        {
            results.RemoveRange(limit, results.Count - limit);
        }

        return results;
    }

    /// <summary>
    /// Where a scan across ranges continues after one answer from <paramref name="route"/>: the
    /// next page of the same range (<paramref name="more"/>), else the next range's bound, or null
    /// when the scan has covered [startKey, endKey). Forward cursors are inclusive lower bounds,
    /// reverse ones exclusive upper bounds.
    /// </summary>
    internal static ByteString? NextScanCursor(CachedRange route, IReadOnlyList<KvPair> pairs, bool more, ByteString startKey, ByteString endKey, bool reverse)
    {
        if (more)
        {
            if (pairs.Count == 0)
            {
                throw new KvException(KvErrorKind.Internal, $"range {route.RangeId} answered a scan with more=true but no pairs; report this as a bug");
            }

            // Next page of the same range: forward just after the last key, reverse below it.
            var last = pairs[^1].Key;
            return reverse ? last : Successor(last);
        }

        if (reverse)
        {
            return route.StartKey.IsEmpty || route.StartKey.Span.SequenceCompareTo(startKey.Span) <= 0 ? null : route.StartKey;
        }

        return route.EndKey.IsEmpty || (!endKey.IsEmpty && route.EndKey.Span.SequenceCompareTo(endKey.Span) >= 0) ? null : route.EndKey;
    }

    /// <summary>
    /// A timestamp from the cluster oracle. Concurrent callers share one GetTimestamp RPC (count =
    /// the number waiting); every value is unique, and a caller's successive values strictly increase.
    /// </summary>
    public Task<Timestamp> GetTimestampAsync(CancellationToken cancellationToken = default) =>
        _timestamps.GetAsync(cancellationToken);

    /// <summary>Ends queued timestamp requests and closes the channels; operations after this throw ObjectDisposedException. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) != 0)
        {
            return;
        }

        await _disposed.CancelAsync().ConfigureAwait(false);
        _channels.Dispose();

        // _disposed is cancelled but deliberately not disposed: operations still in flight (or
        // racing this call) read its Token, which throws once the source is disposed. It holds no
        // timer, so leaving it to the GC releases nothing late.
    }

    internal Operation NewOperation(string what, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposeStarted) != 0, this);
        return new Operation(what, _options, _random, cancellationToken);
    }

    private async Task<(ulong Last, uint Count)> FetchTimestampsAsync(uint count)
    {
        var op = NewOperation("get timestamps", _disposed.Token);
        var response = await _placement.CallAsync(static (s, r, o) => s.Placement.GetTimestampAsync(r, o),
            h => new GetTimestampRequest { Header = h, Count = count }, r => r.Header, op).ConfigureAwait(false);
        return (response.Last, response.Count);
    }

    private async Task<IReadOnlyList<StoreInfo>> ListStoresAsync(Operation op)
    {
        var response = await _placement.CallAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o),
            h => new ListStoresRequest { Header = h }, r => r.Header, op).ConfigureAwait(false);
        foreach (var info in response.Stores)
        {
            if (info.Store is { StoreId: not 0, Address.Length: > 0 } store)
            {
                _storeAddresses[store.StoreId] = store.Address;
            }
        }

        return response.Stores;
    }

    /// <summary>
    /// Sends one range request to the leader of the range <paramref name="locate"/> finds, and
    /// reacts to the range errors until it succeeds or the operation's deadline passes:
    /// 1. NotLeader with a hint: remember the leader, retry at once (up to 3 times in a row, then back off);
    ///    without a hint: move to the next replica and back off.
    /// 2. EpochNotMatch: cache the current descriptors the error carries, retry at once (same limit).
    /// 3. RangeNotFound, KeyNotInRange: evict the range, back off, reload it from placement.
    /// 4. RangeUnavailable: back off and retry.
    /// 5. A transport failure: evict the range and avoid that address for the rest of the operation.
    ///    Raw put and delete are idempotent (writing the same value or deleting twice leaves the same
    ///    state), so an attempt whose outcome is unknown (it failed after it may have been applied)
    ///    is safely retried.
    /// </summary>
    internal async Task<(TResponse Response, CachedRange Route)> RangeCallAsync<TRequest, TResponse>(
        Func<NodeStubs, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call,
        Func<CachedRange, TRequest> build,
        Func<TResponse, RangeError?> error,
        Func<Operation, Task<CachedRange>> locate,
        Operation op,
        Func<string, RpcException, Exception>? unknownOutcome = null)
    {
        var immediateRetries = 0;
        while (true)
        {
            var route = await locate(op).ConfigureAwait(false);
            var address = await ResolveAddressAsync(route, op).ConfigureAwait(false);
            if (address is null)
            {
                op.Note($"range {route.RangeId}", "no address known for any of its stores", transport: false);
                _routes.Evict(route.RangeId);
                await op.BackoffAsync().ConfigureAwait(false);
                continue;
            }

            var options = op.StartAttempt(address);
            TResponse response;
            try
            {
                response = await call(_channels.Get(address), build(route), options).ConfigureAwait(false);
            }
            catch (RpcException e) when (unknownOutcome is not null && e.StatusCode is not (StatusCode.InvalidArgument or StatusCode.OutOfRange or StatusCode.ResourceExhausted or StatusCode.Unimplemented
                or StatusCode.Unauthenticated or StatusCode.PermissionDenied))
            {
                // (A secure node refuses an unauthenticated or unauthorized call before any handler runs: its outcome is known, nothing was applied.)
                // The request may have been applied: the caller decides (a transaction's primary commit is never retried blindly).
                throw unknownOutcome(address, e);
            }
            catch (RpcException e) when (op.IsRetryable(e))
            {
                op.Note(address, e);
                _routes.Evict(route.RangeId);
                await op.BackoffAsync().ConfigureAwait(false);
                continue;
            }
            catch (RpcException e)
            {
                throw op.Fail(address, e);
            }

            var rangeError = error(response);
            if (rangeError is null || rangeError.DetailCase == RangeError.DetailOneofCase.None && rangeError.Message.Length == 0)
            {
                return (response, route);
            }

            var detail = rangeError.Message.Length > 0 ? rangeError.Message : rangeError.DetailCase.ToString();
            op.Note(address, $"range {route.RangeId}: {detail}", transport: false);
            switch (rangeError.DetailCase)
            {
                case RangeError.DetailOneofCase.NotLeader:
                    var notLeader = rangeError.NotLeader;
                    if (notLeader.Leader is { StoreId: not 0 } leader)
                    {
                        if (notLeader.LeaderAddress.Length > 0)
                        {
                            _storeAddresses[leader.StoreId] = notLeader.LeaderAddress;
                        }

                        _routes.SetLeader(route.RangeId, leader.StoreId, notLeader.LeaderAddress);
                        if (immediateRetries++ < 3)
                        {
                            continue;
                        }
                    }
                    else
                    {
                        _routes.RotateLeader(route.RangeId);
                    }

                    break;
                case RangeError.DetailOneofCase.EpochNotMatch:
                    if (rangeError.EpochNotMatch.Current.Count > 0)
                    {
                        _routes.ReplaceWith(rangeError.EpochNotMatch.Current);
                        if (immediateRetries++ < 3)
                        {
                            continue;
                        }
                    }
                    else
                    {
                        _routes.Evict(route.RangeId);
                    }

                    break;
                case RangeError.DetailOneofCase.RangeNotFound:
                case RangeError.DetailOneofCase.KeyNotInRange:
                    _routes.Evict(route.RangeId);
                    break;
                case RangeError.DetailOneofCase.RangeUnavailable:
                    break;
                default:
                    throw new KvException(KvErrorKind.Internal, $"{address} answered the request to {op.What} with an error the client does not know: {detail}");
            }

            await op.BackoffAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The range containing key: from the cache, else from placement (GetRange).</summary>
    internal async Task<CachedRange> LocateAsync(ByteString key, Operation op)
    {
        if (_routes.Find(key.Span) is { } cached)
        {
            return cached;
        }

        GetRangeResponse response;
        while (true)
        {
            try
            {
                response = await _placement.CallAsync(static (s, r, o) => s.Placement.GetRangeAsync(r, o),
                    h => new GetRangeRequest { Header = h, Key = key }, r => r.Header, op).ConfigureAwait(false);
                break;
            }
            catch (KvException e) when (e.Kind == KvErrorKind.NotFound)
            {
                // The directory tiles the key space; a hole is a split being reported (the right
                // half arrived before the shrunk left half). It closes within a heartbeat.
                op.Note("placement", e.Message, transport: false);
                await op.BackoffAsync().ConfigureAwait(false);
            }
        }

        if (response.Range?.Range is null)
        {
            throw new KvException(KvErrorKind.Internal, "placement answered GetRange without a range; report this as a bug");
        }

        return Remember(response.Range);
    }

    /// <summary>The range holding the keys just below end (exclusive; empty = end of key space), for reverse scans.</summary>
    internal async Task<CachedRange> LocateBeforeAsync(ByteString start, ByteString end, Operation op)
    {
        if (_routes.FindBefore(end.Span) is { } cached)
        {
            return cached;
        }

        while (true)
        {
            var response = await _placement.CallAsync(static (s, r, o) => s.Placement.ScanRangesAsync(r, o),
                h => new ScanRangesRequest { Header = h, StartKey = start, EndKey = end }, r => r.Header, op).ConfigureAwait(false);
            CachedRange? last = null;
            foreach (var info in response.Ranges)
            {
                if (info.Range is not null)
                {
                    last = Remember(info);
                }
            }

            // Only a range holding the keys just below end will do: a hole in the directory (a
            // split being reported) must not make the scan skip the keys in it.
            var covers = last is not null && (end.IsEmpty
                ? last.EndKey.IsEmpty
                : last.StartKey.Span.SequenceCompareTo(end.Span) < 0 && (last.EndKey.IsEmpty || end.Span.SequenceCompareTo(last.EndKey.Span) <= 0));
            if (covers)
            {
                return last!;
            }

            op.Note("placement", "no range in the directory holds the keys just below the scan's end (a split is being reported)", transport: false);
            await op.BackoffAsync().ConfigureAwait(false);
        }
    }

    private CachedRange Remember(RangeInfo info)
    {
        var leaderStore = info.Leader?.StoreId ?? 0;
        if (leaderStore != 0 && info.LeaderAddress.Length > 0)
        {
            _storeAddresses[leaderStore] = info.LeaderAddress;
        }

        return _routes.Insert(info.Range, leaderStore, info.LeaderAddress);
    }

    /// <summary>
    /// Where to send a range request: the leader's address when known and not failed during this
    /// operation, else the replicas in rotation order, skipping addresses that failed. Store
    /// addresses come from ListStores (refreshed once when one is missing). Null when none is known.
    /// </summary>
    private async Task<string?> ResolveAddressAsync(CachedRange route, Operation op)
    {
        if (route.LeaderAddress is { } leaderAddress && !op.HasFailed(leaderAddress))
        {
            return leaderAddress;
        }

        var refreshed = false;
        string? fallback = null;
        var candidates = Math.Max(route.Descriptor.Replicas.Count, 1) + 1;
        for (var skip = 0; skip < candidates; skip++)
        {
            var storeId = route.TargetStoreId(skip);
            if (storeId == 0)
            {
                continue;
            }

            if (!_storeAddresses.TryGetValue(storeId, out var address) && !refreshed)
            {
                refreshed = true;
                await ListStoresAsync(op).ConfigureAwait(false);
                _storeAddresses.TryGetValue(storeId, out address);
            }

            if (address is null)
            {
                continue;
            }

            if (!op.HasFailed(address))
            {
                return address;
            }

            fallback ??= address;
        }

        return fallback ?? route.LeaderAddress;
    }

    internal static ByteString KeyOf(ReadOnlyMemory<byte> key, string name)
    {
        if (key.IsEmpty)
        {
            throw new ArgumentException("a key must not be empty", name);
        }

        return ByteString.CopyFrom(key.Span);
    }

    /// <summary>The smallest key greater than key: key + 0x00.</summary>
    internal static ByteString Successor(ByteString key)
    {
        var next = new byte[key.Length + 1];
        key.Span.CopyTo(next);
        return ByteString.CopyFrom(next);
    }
}
