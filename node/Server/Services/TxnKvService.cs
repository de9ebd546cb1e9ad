using Google.Protobuf;
using Grpc.Core;
using Kv.Client;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Transport;
using Kv.Node.Ranges.Txn;
using Kv.Node.Server.Observability;
using Kv.Proto.V1;

namespace Kv.Node.Server.Services;

/// <summary>
/// <c>kv.v1.TxnKv</c> on this store's range replicas (semantics in proto/kv/v1/txn_kv.proto). Thin:
/// it decodes and validates a request (malformed input is INVALID_ARGUMENT, and changes nothing),
/// hands it to the Percolator scheduler of node/Ranges/Txn (latches, read point, rules, proposal;
/// its file states the ordering contract), records the outcome in <see cref="Metrics"/> and
/// encodes the answer: routing problems as RangeErrors, the rules' refusals as KeyErrors.
/// </summary>
internal sealed class TxnKvService(Store store, Func<ulong, RangeReplica?> replicaOf, IStoreResolver stores, RawKvOptions options) : TxnKv.TxnKvBase
{
    private readonly TxnScheduler scheduler = new(store, replicaOf, stores);

    /// <summary>Command outcomes, conflicts and lock resolutions (null: not recorded).</summary>
    public TxnMetrics? Metrics { get; init; }

    public override async Task<TxnGetResponse> Get(TxnGetRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        CheckKey(request.Key, "key");
        RequireTs(request.Version, "version");
        return Answer(await scheduler.GetAsync(new RangeId(ctx.RangeId), ctx.Epoch, request.Key, new Timestamp(request.Version), context.CancellationToken)
            .ConfigureAwait(false));
    }

    // Get's encoding, out of the async method so its locals stay off the heap (Get is on the benchmarked path).
    private TxnGetResponse Answer(TxnGetResult result)
    {
        var (rangeError, keyError, value) = result;
        if (rangeError is not null)
        {
            return new TxnGetResponse { RangeError = rangeError };
        }

        Metrics?.Read(keyError);
        return keyError is not null ? new TxnGetResponse { Error = keyError }
            : value is null ? new TxnGetResponse()
            : new TxnGetResponse { Found = true, Value = UnsafeByteOperations.UnsafeWrap(value) };
    }

    public override async Task<TxnScanResponse> Scan(TxnScanRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        RequireTs(request.Version, "version");
        CheckBounds(request.StartKey, request.EndKey, request.Limit);
        var limit = request.Limit == 0 ? options.DefaultScanLimit : (int)request.Limit;
        var response = new TxnScanResponse();
        var (rangeError, keyError, more) = await scheduler.ScanAsync(new RangeId(ctx.RangeId), ctx.Epoch, request.StartKey, request.EndKey, limit, request.Reverse,
            new Timestamp(request.Version), response.Pairs, context.CancellationToken).ConfigureAwait(false);
        // A lock met counts even when the epoch changed during the scan (the read did meet it).
        Metrics?.Read(keyError);
        if (rangeError is not null)
        {
            return new TxnScanResponse { RangeError = rangeError };
        }

        response.Error = keyError;
        response.More = more;
        return response;
    }

    public override async Task<PrewriteResponse> Prewrite(PrewriteRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        RequireTs(request.StartTs, "start_ts");
        if (request.Mutations.Count == 0)
        {
            throw InvalidArgument("prewrite needs at least one mutation");
        }

        CheckKey(request.PrimaryLock, "primary_lock");
        CheckTtl(request.LockTtlMs, MaxPrewriteTtlMs, "lock_ttl_ms");
        var seen = new HashSet<ByteString>();
        foreach (var m in request.Mutations)
        {
            CheckKey(m.Key, "mutation key");
            if (!seen.Add(m.Key))
            {
                throw InvalidArgument($"key {RangeBounds.Describe(m.Key)} appears in more than one mutation; send each key once");
            }

            if (m.Op is not (MutationOp.Put or MutationOp.Delete or MutationOp.Lock))
            {
                throw InvalidArgument($"mutation op {(int)m.Op} is unknown; use PUT, DELETE or LOCK");
            }

            if (m.Value.Length > options.MaxValueBytes)
            {
                throw InvalidArgument($"value of key {RangeBounds.Describe(m.Key)} is {m.Value.Length} bytes; the limit is {options.MaxValueBytes} bytes");
            }
        }

        foreach (var s in request.Secondaries)
        {
            CheckKey(s, "secondary key");
        }

        var (error, errors) = await scheduler.PrewriteAsync(new RangeId(ctx.RangeId), ctx.Epoch, request.Mutations, request.PrimaryLock,
            new Timestamp(request.StartTs), request.LockTtlMs, request.Secondaries, context.CancellationToken).ConfigureAwait(false);
        Metrics?.Prewritten(error, errors);
        return error is not null ? new PrewriteResponse { RangeError = error } : new PrewriteResponse { Errors = { errors! } };
    }

    public override async Task<CommitResponse> Commit(CommitRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        RequireTs(request.StartTs, "start_ts");
        if (request.CommitTs <= request.StartTs)
        {
            throw InvalidArgument($"commit_ts {request.CommitTs} must be above start_ts {request.StartTs}; get a new timestamp from the TSO");
        }

        var keys = RequireKeys(request.Keys, "commit");
        var (error, keyError) = await scheduler.CommitAsync(new RangeId(ctx.RangeId), ctx.Epoch, keys, new Timestamp(request.StartTs), new Timestamp(request.CommitTs),
            context.CancellationToken).ConfigureAwait(false);
        Metrics?.Answered(TxnMetrics.Command.Commit, error, keyError);
        return new CommitResponse { RangeError = error, Error = keyError };
    }

    public override async Task<RollbackResponse> Rollback(RollbackRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        RequireTs(request.StartTs, "start_ts");
        var keys = RequireKeys(request.Keys, "rollback");
        var (error, keyError) = await scheduler.RollbackAsync(new RangeId(ctx.RangeId), ctx.Epoch, keys, new Timestamp(request.StartTs),
            context.CancellationToken).ConfigureAwait(false);
        Metrics?.Answered(TxnMetrics.Command.Rollback, error, keyError);
        return new RollbackResponse { RangeError = error, Error = keyError };
    }

    public override async Task<CheckTxnStatusResponse> CheckTxnStatus(CheckTxnStatusRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        RequireTs(request.LockTs, "lock_ts");
        CheckKey(request.PrimaryKey, "primary_key");
        var (error, response) = await scheduler.CheckTxnStatusAsync(new RangeId(ctx.RangeId), ctx.Epoch, request.PrimaryKey, new Timestamp(request.LockTs),
            new Timestamp(request.CurrentTs), request.RollbackIfNotExist, context.CancellationToken).ConfigureAwait(false);
        Metrics?.Answered(TxnMetrics.Command.CheckTxnStatus, error, response?.Error);
        return error is not null ? new CheckTxnStatusResponse { RangeError = error } : response!;
    }

    public override async Task<ResolveLockResponse> ResolveLock(ResolveLockRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        RequireTs(request.StartTs, "start_ts");
        if (request.CommitTs != 0 && request.CommitTs <= request.StartTs)
        {
            throw InvalidArgument($"commit_ts {request.CommitTs} must be above start_ts {request.StartTs} (or 0 to roll back)");
        }

        // No keys: every lock of start_ts in the range (at most a scan page of them).
        var keys = request.Keys.Count > 0 ? RequireKeys(request.Keys, "resolve") : null;
        var result = await scheduler.ResolveLockAsync(new RangeId(ctx.RangeId), ctx.Epoch, keys, new Timestamp(request.StartTs), new Timestamp(request.CommitTs),
            options.MaxScanLimit, context.CancellationToken).ConfigureAwait(false);
        if (!result.Attempted)
        {
            // The search for the transaction's locks was refused or found none: not a resolve command to count.
            return result.RangeError is not null ? new ResolveLockResponse { RangeError = result.RangeError } : new ResolveLockResponse();
        }

        Metrics?.Answered(TxnMetrics.Command.ResolveLock, result.RangeError, result.Error);
        Metrics?.Resolved(request.CommitTs, result.RangeError is null ? result.Resolved : 0);
        return result.RangeError is not null ? new ResolveLockResponse { RangeError = result.RangeError } : new ResolveLockResponse { Error = result.Error, Resolved = result.Resolved };
    }

    public override async Task<TxnHeartBeatResponse> TxnHeartBeat(TxnHeartBeatRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        RequireTs(request.StartTs, "start_ts");
        CheckKey(request.PrimaryLock, "primary_lock");
        CheckTtl(request.AdviseTtlMs, MaxHeartBeatTtlMs, "advise_ttl_ms");
        var (error, result) = await scheduler.HeartBeatAsync(new RangeId(ctx.RangeId), ctx.Epoch, request.PrimaryLock, new Timestamp(request.StartTs),
            request.AdviseTtlMs, context.CancellationToken).ConfigureAwait(false);
        Metrics?.Answered(TxnMetrics.Command.HeartBeat, error, result.Error);
        return error is not null ? new TxnHeartBeatResponse { RangeError = error } : new TxnHeartBeatResponse { Error = result.Error, LockTtlMs = result.TtlMs };
    }

    public override async Task<ScanLockResponse> ScanLock(ScanLockRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        CheckBounds(request.StartKey, request.EndKey, request.Limit);
        var limit = request.Limit == 0 ? options.DefaultScanLimit : (int)request.Limit;
        var response = new ScanLockResponse();
        var (rangeError, more) = await scheduler.ScanLocksAsync(new RangeId(ctx.RangeId), ctx.Epoch, request.StartKey, request.EndKey, limit,
            new Timestamp(request.MaxVersion), response.Locks, context.CancellationToken).ConfigureAwait(false);
        if (rangeError is not null)
        {
            return new ScanLockResponse { RangeError = rangeError };
        }

        response.More = more;
        return response;
    }

    /// <summary>
    /// Longest TTL a prewrite may ask for (one hour; a lock of a dead client blocks its keys that
    /// long), and longest a heartbeat may extend a lock to, counted from start_ts (a day: the
    /// longest a transaction can live). Both keep the TTL arithmetic far from overflow.
    /// </summary>
    internal const ulong MaxPrewriteTtlMs = 3_600_000;
    internal const ulong MaxHeartBeatTtlMs = 86_400_000;

    private static void CheckTtl(ulong ttlMs, ulong limitMs, string what)
    {
        if (ttlMs > limitMs)
        {
            throw InvalidArgument($"{what} is {ttlMs} ms; the limit is {limitMs} ms. Start with a shorter TTL and keep a long transaction alive with TxnHeartBeat");
        }
    }

    private List<ByteString> RequireKeys(IEnumerable<ByteString> keys, string what)
    {
        var list = keys.Distinct().ToList();
        if (list.Count == 0)
        {
            throw InvalidArgument($"{what} needs at least one key");
        }

        foreach (var k in list)
        {
            CheckKey(k, "key");
        }

        return list;
    }

    private void CheckBounds(ByteString start, ByteString end, uint limit)
    {
        if (start.Length > options.MaxKeyBytes || end.Length > options.MaxKeyBytes)
        {
            throw InvalidArgument($"scan bounds may be at most {options.MaxKeyBytes} bytes");
        }

        if (!end.IsEmpty && start.Span.SequenceCompareTo(end.Span) >= 0)
        {
            throw InvalidArgument("scan start_key must be below end_key (or end_key empty for no end)");
        }

        if (limit > options.MaxScanLimit)
        {
            throw InvalidArgument($"scan limit {limit} is above the maximum {options.MaxScanLimit}; page through with smaller limits");
        }
    }

    private static void RequireTs(ulong ts, string what)
    {
        if (ts == 0)
        {
            throw InvalidArgument($"{what} is 0; take a timestamp from the TSO");
        }
    }

    private static RangeContext RequireContext(RangeContext? ctx) =>
        ctx is { RangeId: > 0 } ? ctx : throw InvalidArgument("context.range_id is required: route the request with the range's id and epoch");

    private void CheckKey(ByteString key, string what)
    {
        if (key.IsEmpty)
        {
            // An empty primary_lock in particular would make a lock no reader could resolve.
            throw InvalidArgument($"{what} is empty; keys are 1 to {options.MaxKeyBytes} bytes");
        }

        if (key.Length > options.MaxKeyBytes)
        {
            throw InvalidArgument($"{what} is {key.Length} bytes; the limit is {options.MaxKeyBytes} bytes");
        }
    }

    private static RpcException InvalidArgument(string detail) => new(new Status(StatusCode.InvalidArgument, detail));
}
