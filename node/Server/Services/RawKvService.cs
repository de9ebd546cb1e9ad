using Google.Protobuf;
using Grpc.Core;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Splits;
using Kv.Node.Ranges.Transport;
using Kv.Node.Storage;
using Kv.Proto.V1;

namespace Kv.Node.Server.Services;

/// <summary>
/// <c>kv.v1.RawKv</c> on this store's range replicas (semantics in proto/kv/v1/raw_kv.proto).
/// Writes are proposed on the range's leader and answered once applied and durable; reads take a
/// ReadIndex on the leader and then read the engine, which by then holds everything committed
/// before the request arrived. Routing problems are typed RangeErrors in the response, never
/// exceptions; malformed requests are INVALID_ARGUMENT; nothing is applied for either.
/// </summary>
internal sealed class RawKvService(Store store, Func<ulong, RangeReplica?> replicaOf, IStoreResolver stores, RawKvOptions options) : RawKv.RawKvBase
{
    private static long nextProposal = Random.Shared.NextInt64();

    /// <summary>Where key requests are counted and sampled per range for load-based splits (null: not counted).</summary>
    public LoadSampler? Load { get; init; }

    public override async Task<RawGetResponse> Get(RawGetRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        CheckKey(request.Key, "key");
        RecordLoad(ctx, request.Key);
        var error = await ReadBarrierAsync(ctx, request.Key, context.CancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            return new RawGetResponse { Error = error };
        }

        var value = store.Engine.Get(ColumnFamily.Default, Keys.Data(request.Key.Span));
        return value is null
            ? new RawGetResponse()
            : new RawGetResponse { Found = true, Value = UnsafeByteOperations.UnsafeWrap(value) };
    }

    public override async Task<RawPutResponse> Put(RawPutRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        CheckKey(request.Key, "key");
        RecordLoad(ctx, request.Key);
        if (request.Value.Length > options.MaxValueBytes)
        {
            throw InvalidArgument($"value is {request.Value.Length} bytes; the limit is {options.MaxValueBytes} bytes");
        }

        var command = new RangeCommand { Epoch = ctx.Epoch, RawPut = new RawPutCommand { Key = request.Key, Value = request.Value } };
        return new RawPutResponse { Error = await ProposeAsync(ctx, command, context.CancellationToken).ConfigureAwait(false) };
    }

    public override async Task<RawDeleteResponse> Delete(RawDeleteRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        CheckKey(request.Key, "key");
        RecordLoad(ctx, request.Key);
        var command = new RangeCommand { Epoch = ctx.Epoch, RawDelete = new RawDeleteCommand { Key = request.Key } };
        return new RawDeleteResponse { Error = await ProposeAsync(ctx, command, context.CancellationToken).ConfigureAwait(false) };
    }

    public override async Task<RawScanResponse> Scan(RawScanRequest request, ServerCallContext context)
    {
        var ctx = RequireContext(request.Context);
        if (request.StartKey.Length > options.MaxKeyBytes || request.EndKey.Length > options.MaxKeyBytes)
        {
            throw InvalidArgument($"scan bounds may be at most {options.MaxKeyBytes} bytes");
        }

        if (!request.EndKey.IsEmpty && request.StartKey.Span.SequenceCompareTo(request.EndKey.Span) >= 0)
        {
            throw InvalidArgument("scan start_key must be below end_key (or end_key empty for no end)");
        }

        if (request.Limit > options.MaxScanLimit)
        {
            throw InvalidArgument($"scan limit {request.Limit} is above the maximum {options.MaxScanLimit}; page through with smaller limits");
        }

        var error = await ReadBarrierAsync(ctx, null, context.CancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            return new RawScanResponse { Error = error };
        }

        // A split may apply between the read point and here, or during the scan: the bounds must be
        // those of the epoch the client routed with, and the answer only stands if that epoch held
        // throughout (else the client, moving on to the old end key, would skip the right half).
        if (replicaOf(ctx.RangeId) is not { } replica)
        {
            return new RawScanResponse { Error = RangeErrors.RangeNotFound(store.StoreId, ctx.RangeId) };
        }

        var d = replica.Descriptor;
        if (!RangeBounds.SameEpoch(ctx.Epoch, d.Epoch))
        {
            return new RawScanResponse { Error = replica.EpochNotMatchError() };
        }

        var lo = request.StartKey.Span.SequenceCompareTo(d.StartKey.Span) > 0 ? request.StartKey : d.StartKey;
        var hi = Min(request.EndKey, d.EndKey);
        var limit = request.Limit == 0 ? options.DefaultScanLimit : (int)request.Limit;
        var response = new RawScanResponse();
        using var it = store.Engine.NewIterator(ColumnFamily.Default, Keys.Data(lo.Span), hi.IsEmpty ? Keys.DataEnd : Keys.Data(hi.Span));
        var valid = request.Reverse ? it.SeekToLast() : it.SeekToFirst();
        while (valid && response.Pairs.Count < limit)
        {
            response.Pairs.Add(new KvPair { Key = ByteString.CopyFrom(it.Key[1..]), Value = ByteString.CopyFrom(it.Value) });
            valid = request.Reverse ? it.Prev() : it.Next();
        }

        response.More = valid;
        return RangeBounds.SameEpoch(ctx.Epoch, replica.Descriptor.Epoch) ? response : new RawScanResponse { Error = replica.EpochNotMatchError() };
    }

    /// <summary>Counts the request for load-based splits, for ranges this store holds only (a client cannot make it track arbitrary ids).</summary>
    private void RecordLoad(RangeContext ctx, ByteString key)
    {
        if (Load is { } load && replicaOf(ctx.RangeId) is not null)
        {
            load.Record(ctx.RangeId, key);
        }
    }

    /// <summary>The smaller of two exclusive upper bounds, where empty means "no bound".</summary>
    private static ByteString Min(ByteString a, ByteString b) =>
        a.IsEmpty ? b : b.IsEmpty ? a : a.Span.SequenceCompareTo(b.Span) <= 0 ? a : b;

    private async Task<RangeError?> ProposeAsync(RangeContext ctx, RangeCommand command, CancellationToken ct)
    {
        command.ProposalId = (ulong)Interlocked.Increment(ref nextProposal);
        var data = command.ToByteArray();
        try
        {
            var result = await store.ProposeAsync(ctx.RangeId, command.ProposalId, data, g => ((RangeReplica)g.Machine).Check(command))
                .WaitAsync(ct).ConfigureAwait(false);
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

    /// <summary>Waits for a linearizable read point on the range's leader; null when the read may proceed.</summary>
    private async Task<RangeError?> ReadBarrierAsync(RangeContext ctx, ByteString? key, CancellationToken ct)
    {
        try
        {
            var refusal = await store.ReadIndexAsync(ctx.RangeId, g =>
            {
                var replica = (RangeReplica)g.Machine;
                var d = replica.Descriptor;
                if (!RangeBounds.SameEpoch(ctx.Epoch, d.Epoch))
                {
                    return replica.EpochNotMatchError();
                }

                return key is not null && !RangeBounds.Contains(d, key.Span) ? RangeReplica.KeyNotInRange(d, key) : null;
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

    private static RangeContext RequireContext(RangeContext? ctx) =>
        ctx is { RangeId: > 0 } ? ctx : throw InvalidArgument("context.range_id is required: route the request with the range's id and epoch");

    private void CheckKey(ByteString key, string what)
    {
        if (key.Length > options.MaxKeyBytes)
        {
            throw InvalidArgument($"{what} is {key.Length} bytes; the limit is {options.MaxKeyBytes} bytes");
        }
    }

    private static RpcException InvalidArgument(string detail) => new(new Status(StatusCode.InvalidArgument, detail));
}
