using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using Kv.Client;
using Kv.Node.Mvcc;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Transport;
using Kv.Node.Server.Observability;
using Kv.Proto.V1;

namespace Kv.Node.Server.Services;

/// <summary>
/// <c>kv.v1.TxnKv</c> on this store's range replicas (semantics in proto/kv/v1/txn_kv.proto; rules
/// in node/Mvcc/TxnActions). Writes are computed on the leader, TiKV style:
///  1. take the latches of the request's keys (<see cref="Latches"/>);
///  2. wait for a ReadIndex read point whose check verifies epoch and key range;
///  3. read locks, write records and values from the engine and run the Percolator rule;
///  4. if it wrote anything, propose RangeCommand.txn_write with exactly those engine writes and
///     answer once it is applied (apply only re-checks epoch and key range); release the latches
///     after the proposal is applied or has failed, never before.
/// Why the leader's read is not stale: every command on a key is serialized by that key's latch on
/// this leader, and a command only proposes after the previous one on its keys was applied (step 4);
/// entries of earlier leaders, and of this leader before the latch was taken, are applied before the
/// ReadIndex of step 2 completes (it waits for the commit index as of a current-term read point).
/// So the state a rule reads includes every command ordered before it on its keys, and no command
/// ordered after it can be proposed from a state missing it. A proposal that fails because this
/// replica lost leadership may still commit under the next leader; that leader's ReadIndex applies
/// it before computing anything. The proposal is admitted only in the term of step 2's read: a
/// replica that lost leadership and won it back in between may have missed commands another
/// leader applied to the keys, so its computed writes are refused (RangeUnavailable, retry)
/// rather than appended after them.
/// Reads (Get, Scan, ScanLock) take a ReadIndex and read the engine, without latches.
/// Routing problems are RangeErrors in the response; malformed requests are INVALID_ARGUMENT; a
/// refused request changes nothing.
/// </summary>
internal sealed class TxnKvService(Store store, Func<ulong, RangeReplica?> replicaOf, IStoreResolver stores, RawKvOptions options) : TxnKv.TxnKvBase
{
    private static long nextProposal = Random.Shared.NextInt64();
    private readonly Latches latches = new();

    /// <summary>Command outcomes, conflicts and lock resolutions (null: not recorded).</summary>
    public TxnMetrics? Metrics { get; init; }

    public override async Task<TxnGetResponse> Get(TxnGetRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        CheckKey(request.Key, "key");
        RequireTs(request.Version, "version");
        if (await ReadBarrierAsync(ctx, [request.Key], context.CancellationToken).ConfigureAwait(false) is { } error)
        {
            return new TxnGetResponse { RangeError = error };
        }

        var (keyError, value) = TxnActions.Get(new EngineMvccReader(store.Engine), request.Key.Span, new Timestamp(request.Version));
        // The barrier checked the epoch before its wait: a split applied since may have moved the
        // key to a range led elsewhere, whose newer commits this engine need not hold. The answer
        // only stands if the epoch the client routed with held throughout (as Scan checks).
        if (CurrentReplica(ctx, out var moved) is null)
        {
            return new TxnGetResponse { RangeError = moved };
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
        if (await ReadBarrierAsync(ctx, [], context.CancellationToken).ConfigureAwait(false) is { } error)
        {
            return new TxnScanResponse { RangeError = error };
        }

        if (CurrentReplica(ctx, out var rangeError) is not { } replica)
        {
            return new TxnScanResponse { RangeError = rangeError };
        }

        var d = replica.Descriptor;
        var lo = Max(request.StartKey, d.StartKey);
        var hi = Min(request.EndKey, d.EndKey);
        var limit = request.Limit == 0 ? options.DefaultScanLimit : (int)request.Limit;
        var version = new Timestamp(request.Version);
        var response = new TxnScanResponse();
        using (var snapshot = store.Engine.GetSnapshot())
        {
            var reader = new EngineMvccReader(store.Engine, snapshot);
            foreach (var key in reader.ScanUserKeys(lo.ToByteArray(), hi.ToByteArray(), request.Reverse))
            {
                if (response.Pairs.Count >= limit)
                {
                    response.More = true;
                    break;
                }

                var (keyError, value) = TxnActions.Get(reader, key, version);
                if (keyError is not null)
                {
                    response.Error = keyError;
                    break;
                }

                if (value is not null)
                {
                    response.Pairs.Add(new KvPair { Key = ByteString.CopyFrom(key), Value = UnsafeByteOperations.UnsafeWrap(value) });
                }
            }
        }

        Metrics?.Read(response.Error);
        return RangeBounds.SameEpoch(ctx.Epoch, replica.Descriptor.Epoch) ? response : new TxnScanResponse { RangeError = replica.EpochNotMatchError() };
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

        var keys = request.Mutations.Select(m => m.Key).ToList();
        var (error, errors) = await WriteAsync(ctx, keys, (reader, txn) => TxnActions.Prewrite(reader, txn, request.Mutations, request.PrimaryLock.Span,
            new Timestamp(request.StartTs), request.LockTtlMs, request.Secondaries), context.CancellationToken).ConfigureAwait(false);
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
        var (error, keyError) = await WriteAsync(ctx, keys, (reader, txn) => TxnActions.Commit(reader, txn, keys, new Timestamp(request.StartTs), new Timestamp(request.CommitTs)),
            context.CancellationToken).ConfigureAwait(false);
        Metrics?.Answered(TxnMetrics.Command.Commit, error, keyError);
        return new CommitResponse { RangeError = error, Error = keyError };
    }

    public override async Task<RollbackResponse> Rollback(RollbackRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        RequireTs(request.StartTs, "start_ts");
        var keys = RequireKeys(request.Keys, "rollback");
        var (error, keyError) = await WriteAsync(ctx, keys, (reader, txn) => TxnActions.Rollback(reader, txn, keys, new Timestamp(request.StartTs)),
            context.CancellationToken).ConfigureAwait(false);
        Metrics?.Answered(TxnMetrics.Command.Rollback, error, keyError);
        return new RollbackResponse { RangeError = error, Error = keyError };
    }

    public override async Task<CheckTxnStatusResponse> CheckTxnStatus(CheckTxnStatusRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        RequireTs(request.LockTs, "lock_ts");
        CheckKey(request.PrimaryKey, "primary_key");
        var (error, response) = await WriteAsync(ctx, [request.PrimaryKey], (reader, txn) => TxnActions.CheckTxnStatus(reader, txn, request.PrimaryKey,
            new Timestamp(request.LockTs), new Timestamp(request.CurrentTs), request.RollbackIfNotExist), context.CancellationToken).ConfigureAwait(false);
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

        var startTs = new Timestamp(request.StartTs);
        List<ByteString> keys;
        var named = request.Keys.Count > 0;
        if (named)
        {
            keys = RequireKeys(request.Keys, "resolve");
        }
        else
        {
            // Every lock of start_ts in the range: find them at a read point, then resolve them under their latches.
            if (await ReadBarrierAsync(ctx, [], context.CancellationToken).ConfigureAwait(false) is { } barrierError)
            {
                return new ResolveLockResponse { RangeError = barrierError };
            }

            if (CurrentReplica(ctx, out var rangeError) is not { } replica)
            {
                return new ResolveLockResponse { RangeError = rangeError };
            }

            var d = replica.Descriptor;
            keys = new EngineMvccReader(store.Engine).ScanLocks(d.StartKey.ToByteArray(), d.EndKey.ToByteArray())
                .Where(l => l.Lock.StartTs == startTs)
                .Take(options.MaxScanLimit)
                .Select(l => ByteString.CopyFrom(l.Key))
                .ToList();
            if (keys.Count == 0)
            {
                return new ResolveLockResponse();
            }
        }

        var (error, result) = await WriteAsync(ctx, keys, (reader, txn) =>
        {
            var (keyError, resolved) = TxnActions.ResolveLock(reader, txn, keys, startTs, new Timestamp(request.CommitTs));
            // Locks found by the scan may have been resolved before the latches were taken (then
            // nothing of the transaction is left to do); any other refusal is reported.
            return named || keyError?.TxnNotFound is null ? (keyError, resolved) : (null, 0u);
        }, context.CancellationToken).ConfigureAwait(false);
        Metrics?.Answered(TxnMetrics.Command.ResolveLock, error, result.Item1);
        Metrics?.Resolved(request.CommitTs, error is null ? result.Item2 : 0);
        return error is not null ? new ResolveLockResponse { RangeError = error } : new ResolveLockResponse { Error = result.Item1, Resolved = result.Item2 };
    }

    public override async Task<TxnHeartBeatResponse> TxnHeartBeat(TxnHeartBeatRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        RequireTs(request.StartTs, "start_ts");
        CheckKey(request.PrimaryLock, "primary_lock");
        CheckTtl(request.AdviseTtlMs, MaxHeartBeatTtlMs, "advise_ttl_ms");
        var (error, result) = await WriteAsync(ctx, [request.PrimaryLock], (reader, txn) => TxnActions.HeartBeat(reader, txn, request.PrimaryLock,
            new Timestamp(request.StartTs), request.AdviseTtlMs), context.CancellationToken).ConfigureAwait(false);
        Metrics?.Answered(TxnMetrics.Command.HeartBeat, error, result.Error);
        return error is not null ? new TxnHeartBeatResponse { RangeError = error } : new TxnHeartBeatResponse { Error = result.Error, LockTtlMs = result.TtlMs };
    }

    public override async Task<ScanLockResponse> ScanLock(ScanLockRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        CheckBounds(request.StartKey, request.EndKey, request.Limit);
        if (await ReadBarrierAsync(ctx, [], context.CancellationToken).ConfigureAwait(false) is { } error)
        {
            return new ScanLockResponse { RangeError = error };
        }

        if (CurrentReplica(ctx, out var rangeError) is not { } replica)
        {
            return new ScanLockResponse { RangeError = rangeError };
        }

        var d = replica.Descriptor;
        var limit = request.Limit == 0 ? options.DefaultScanLimit : (int)request.Limit;
        var response = new ScanLockResponse();
        using (var snapshot = store.Engine.GetSnapshot())
        {
            foreach (var (key, lk) in new EngineMvccReader(store.Engine, snapshot).ScanLocks(Max(request.StartKey, d.StartKey).ToByteArray(), Min(request.EndKey, d.EndKey).ToByteArray()))
            {
                if (lk.StartTs.Value > request.MaxVersion)
                {
                    continue;
                }

                if (response.Locks.Count >= limit)
                {
                    response.More = true;
                    break;
                }

                response.Locks.Add(TxnActions.Info(key, lk));
            }
        }

        return RangeBounds.SameEpoch(ctx.Epoch, replica.Descriptor.Epoch) ? response : new ScanLockResponse { RangeError = replica.EpochNotMatchError() };
    }

    /// <summary>Steps 1-4 of the class comment: (routing error, nothing else) or (null, the rule's result).</summary>
    private async Task<(RangeError? Error, T? Result)> WriteAsync<T>(RangeContext ctx, IReadOnlyList<ByteString> keys, Func<IMvccReader, MvccTxn, T> rule, CancellationToken ct)
    {
        using var held = await latches.AcquireAsync(keys.Select(k => k.Memory), ct).ConfigureAwait(false);
        var readTerm = new StrongBox<ulong>();
        if (await ReadBarrierAsync(ctx, keys, ct, readTerm).ConfigureAwait(false) is { } barrierError)
        {
            return (barrierError, default);
        }

        var txn = new MvccTxn();
        var result = rule(new EngineMvccReader(store.Engine), txn);
        if (txn.Writes.Count == 0)
        {
            return (null, result);
        }

        var command = new RangeCommand { Epoch = ctx.Epoch, TxnWrite = txn.ToCommand() };
        var error = await ProposeAsync(ctx, command, readTerm.Value).ConfigureAwait(false);
        return error is not null ? (error, default) : (null, result);
    }

    /// <summary>
    /// Proposes and waits for the outcome without a cancellation token: the latches must stay held
    /// until the command is applied or has failed, even if the caller has gone.
    /// </summary>
    private async Task<RangeError?> ProposeAsync(RangeContext ctx, RangeCommand command, ulong readTerm)
    {
        command.ProposalId = (ulong)Interlocked.Increment(ref nextProposal);
        var data = command.ToByteArray();
        try
        {
            // The writes were computed from the state read in readTerm. If the term moved since
            // (leadership lost and won back), another leader may have applied commands to these
            // keys in between, and proposing would apply stale writes after them: refuse, and
            // let the caller retry (nothing was proposed).
            var result = await store.ProposeAsync(ctx.RangeId, command.ProposalId, data,
                g => g.Node.Term != readTerm ? TermChanged(ctx.RangeId, readTerm, g.Node.Term) : ((RangeReplica)g.Machine).Check(command)).ConfigureAwait(false);
            return (RangeError?)result;
        }
        catch (GroupNotLeaderException e)
        {
            return RangeErrors.NotLeader(store.StoreId, replicaOf, stores, ctx.RangeId, e.LeaderMemberId);
        }
        catch (GroupNotFoundException)
        {
            return RangeErrors.RangeNotFound(store.StoreId, ctx.RangeId);
        }
    }

    private static RangeError TermChanged(ulong rangeId, ulong readTerm, ulong term) => new()
    {
        Message = $"range {rangeId}: leadership changed (term {readTerm} -> {term}) between the read and the proposal; nothing was proposed: retry",
        RangeUnavailable = new RangeUnavailable { RangeId = rangeId },
    };

    /// <summary>
    /// Waits for a linearizable read point on the range's leader whose epoch matches and range
    /// holds every key; null when the command may proceed. The leader's term at the read goes to
    /// <paramref name="term"/> when given (the read point is confirmed in that term).
    /// </summary>
    private async Task<RangeError?> ReadBarrierAsync(RangeContext ctx, IReadOnlyList<ByteString> keys, CancellationToken ct, StrongBox<ulong>? term = null)
    {
        try
        {
            var refusal = await store.ReadIndexAsync(ctx.RangeId, g =>
            {
                term?.Value = g.Node.Term;
                var replica = (RangeReplica)g.Machine;
                var d = replica.Descriptor;
                if (!RangeBounds.SameEpoch(ctx.Epoch, d.Epoch))
                {
                    return replica.EpochNotMatchError();
                }

                foreach (var key in keys)
                {
                    if (!RangeBounds.Contains(d, key.Span))
                    {
                        return RangeReplica.KeyNotInRange(d, key);
                    }
                }

                return null;
            }).WaitAsync(ct).ConfigureAwait(false);
            return (RangeError?)refusal;
        }
        catch (GroupNotLeaderException e)
        {
            return RangeErrors.NotLeader(store.StoreId, replicaOf, stores, ctx.RangeId, e.LeaderMemberId);
        }
        catch (GroupNotFoundException)
        {
            return RangeErrors.RangeNotFound(store.StoreId, ctx.RangeId);
        }
    }

    /// <summary>The replica if it is still at the epoch the client routed with; else null and the error.</summary>
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

    private RangeReplica? CurrentReplica(RangeContext ctx, out RangeError? error)
    {
        error = null;
        if (replicaOf(ctx.RangeId) is not { } replica)
        {
            error = RangeErrors.RangeNotFound(store.StoreId, ctx.RangeId);
            return null;
        }

        if (!RangeBounds.SameEpoch(ctx.Epoch, replica.Descriptor.Epoch))
        {
            error = replica.EpochNotMatchError();
            return null;
        }

        return replica;
    }

    private static ByteString Min(ByteString a, ByteString b) =>
        a.IsEmpty ? b : b.IsEmpty ? a : a.Span.SequenceCompareTo(b.Span) <= 0 ? a : b;

    private static ByteString Max(ByteString a, ByteString b) => a.Span.SequenceCompareTo(b.Span) >= 0 ? a : b;

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
