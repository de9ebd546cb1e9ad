using Google.Protobuf;
using Kv.Client.Contracts;
using Kv.Client.Rpc;
using Kv.Node.Ranges;
using Kv.Node.Server.Rpc;
using Kv.Proto.V1;

namespace Kv.Node.Server.Services;

/// <summary>
/// kv.v1.Admin/SplitRange, on the range's leader:
///  1. refuse malformed input (INVALID_ARGUMENT: no range, empty or too long key, key not strictly
///     inside the range) and a stale epoch (EpochNotMatch with the current descriptors); nothing is
///     allocated or proposed;
///  2. allocate the new range id and one replica id per store from placement (AllocId);
///  3. propose the <see cref="SplitCommand"/> fenced on the caller's epoch (the leader checks it
///     again before proposing, and every replica at apply);
///  4. answer both halves once the split is applied and durable here, and report the shrunk left
///     half to placement at once (the right half's leader reports it with its range heartbeat).
/// Ids allocated for a split that is then refused are simply never used.
/// </summary>
internal sealed partial class AdminService
{
    private static long nextSplitProposal = Random.Shared.NextInt64();

    /// <summary>Largest split key accepted (the node's max-key-bytes).</summary>
    public int MaxKeyBytes { get; init; } = 4096;

    /// <summary>The cluster id for calls to placement (empty until known).</summary>
    public Func<string> ClusterId { get; init; } = () => "";

    private async Task<SplitRangeResponse> SplitRangeAsync(SplitRangeRequest request, ServerCallContext context)
    {
        var ctx = request.Context is { RangeId: > 0 } c ? c : throw Refuse(StatusCode.InvalidArgument, "context.range_id is required: name the range and the epoch you saw");
        var key = request.SplitKey;
        if (key.IsEmpty)
        {
            throw Refuse(StatusCode.InvalidArgument, "split_key is empty: give the key the right-hand range should start at (strictly inside the range)");
        }

        if (key.Length > MaxKeyBytes)
        {
            throw Refuse(StatusCode.InvalidArgument, $"split_key is {key.Length} bytes; the limit is {MaxKeyBytes} bytes: pick a shorter key");
        }

        if (replicaOf(ctx.RangeId) is not { } replica)
        {
            return new SplitRangeResponse { Error = RangeErrors.RangeNotFound(store.StoreId, ctx.RangeId) };
        }

        var outcome = await SplitAsync(replica, ctx.Epoch, key, context.CancellationToken).ConfigureAwait(false);
        return outcome switch
        {
            SplitResult done => new SplitRangeResponse { Left = done.Left, Right = done.Right },
            RangeError error => new SplitRangeResponse { Error = error },
            _ => throw Refuse(StatusCode.Internal, $"range {ctx.RangeId}: the split ended with an unexpected result {outcome}; report this as a bug"),
        };
    }

    /// <summary>
    /// Splits replica's range at key, fenced on epoch: a <see cref="SplitResult"/>, or the
    /// <see cref="RangeError"/> to answer. Throws an INVALID_ARGUMENT RpcException for a key not
    /// strictly inside the range. Also the automatic splitter's entry point.
    /// </summary>
    public async Task<object> SplitAsync(RangeReplica replica, RangeEpoch? epoch, ByteString key, CancellationToken ct)
    {
        var d = replica.Descriptor;
        if (!RangeBounds.SameEpoch(epoch, d.Epoch))
        {
            return replica.EpochNotMatchError();
        }

        if (key.Span.SequenceCompareTo(d.StartKey.Span) <= 0 || (!d.EndKey.IsEmpty && key.Span.SequenceCompareTo(d.EndKey.Span) >= 0))
        {
            var why = key.Span.SequenceCompareTo(d.StartKey.Span) == 0 ? "is the range's start key (a split there would leave the left half empty)" : "is outside the range";
            throw Refuse(StatusCode.InvalidArgument,
                $"split key {RangeBounds.Describe(key)} {why}: range {d.RangeId} is [{RangeBounds.Describe(d.StartKey)}, {RangeBounds.Describe(d.EndKey)}); " +
                "pick a key strictly inside it (or split the range that holds the key)");
        }

        // Only the leader allocates ids and proposes: ask the store first, so a follower does not burn ids.
        var status = (await store.StatusAsync().WaitAsync(ct).ConfigureAwait(false)).FirstOrDefault(s => s.GroupId == d.RangeId);
        if (!status.IsLeader)
        {
            return status.GroupId == 0
                ? RangeErrors.RangeNotFound(store.StoreId, d.RangeId)
                : RangeErrors.NotLeader(store.StoreId, replicaOf, stores, d.RangeId, status.Lead);
        }

        var count = (uint)d.Replicas.Count + 1;
        var ids = await placement.CallAsync(PlacementContract.AllocId,
            new AllocIdRequest { Header = new RequestHeader { ClusterId = ClusterId() }, Count = count }, r => r.Header, ct).ConfigureAwait(false);
        if (ids.Header?.Error is { Code: not PlacementErrorCode.PlacementErrorNone } refused || ids.Count < count)
        {
            return new RangeError
            {
                Message = $"range {d.RangeId}: placement did not allocate ids for the split ({ids.Header?.Error?.Message ?? $"{ids.Count} of {count} ids"}); retry shortly",
                RangeUnavailable = new RangeUnavailable { RangeId = d.RangeId },
            };
        }

        var split = new SplitCommand { SplitKey = key, NewRangeId = ids.First };
        for (var i = 0; i < d.Replicas.Count; i++)
        {
            split.NewReplicas.Add(new ReplicaDescriptor { ReplicaId = ids.First + 1 + (ulong)i, StoreId = d.Replicas[i].StoreId, Role = d.Replicas[i].Role });
        }

        var command = new RangeCommand
        {
            ProposalId = (ulong)Interlocked.Increment(ref nextSplitProposal),
            Epoch = epoch?.Clone() ?? new RangeEpoch(),
            Split = split,
        };
        object? result;
        try
        {
            result = await store.ProposeAsync(d.RangeId, command.ProposalId, command.ToByteArray(), g => ((RangeReplica)g.Machine).Check(command))
                .WaitAsync(ct).ConfigureAwait(false);
        }
        catch (GroupNotLeaderException e)
        {
            return RangeErrors.NotLeader(store.StoreId, replicaOf, stores, d.RangeId, e.LeaderMemberId);
        }
        catch (GroupNotFoundException)
        {
            return RangeErrors.RangeNotFound(store.StoreId, d.RangeId);
        }

        if (result is SplitResult done)
        {
            await ReportAsync(done.Left, replica.LocalReplicaId, ct).ConfigureAwait(false);
            return done;
        }

        return result as RangeError ?? new RangeError { Message = $"range {d.RangeId}: the split was not applied; retry" };
    }

    /// <summary>Best effort: tells placement about the shrunk left half now rather than at the next heartbeat.</summary>
    private async Task ReportAsync(RangeDescriptor left, ulong localReplicaId, CancellationToken ct)
    {
        if (RangeBounds.Replica(left, localReplicaId) is not { } leader)
        {
            return;
        }

        using var brief = CancellationTokenSource.CreateLinkedTokenSource(ct);
        brief.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await placement.CallAsync(PlacementContract.RangeHeartbeat,
                new RangeHeartbeatRequest { Header = new RequestHeader { ClusterId = ClusterId() }, Range = left, Leader = leader },
                r => r.Header, brief.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The range heartbeat will report it.
        }
    }
}
