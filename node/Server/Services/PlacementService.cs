using System.Diagnostics;
using Grpc.Core;
using Kv.Client;
using Kv.Node.Placement;
using Kv.Node.Server.Observability;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Server.Services;

/// <summary>
/// <c>kv.v1.Placement</c> (proto/kv/v1/placement.proto) over the placement Raft group. Every
/// node serves it; only the leader answers, the others reply NOT_LEADER naming the leader and
/// every member. Changes are proposed through <see cref="IPlacementGroup"/>: a response without
/// error means the change is committed and applied. Reads go through a read barrier, so they
/// see every change committed before they arrived.
///
/// Soft state (store liveness, range leaders, the TSO allocator) lives in a per-term leader
/// session: when this node's <see cref="IPlacementGroup.LeaderTerm"/> changes, a fresh session
/// starts (stores get a grace period from the takeover time; the TSO starts above the persisted
/// window after a read barrier in the new term).
///
/// Refusals are in <see cref="ResponseHeader.Error"/> (the RPC itself succeeds); a refusal
/// changes nothing. A request whose proposal or barrier does not finish within
/// <see cref="PlacementServiceOptions.ProposalTimeout"/> gets UNAVAILABLE (outcome of a
/// proposal then unknown: AllocId may have consumed ids, which is harmless).
/// </summary>
public sealed class PlacementService : Kv.Proto.V1.Placement.PlacementBase
{
    /// <summary>Bootstrap: the id sequence continues after this value (member ids are store ids below it).</summary>
    internal const ulong BootstrapIdFloor = 1000;

    /// <summary>Bootstrap: the first range's id.</summary>
    internal const ulong FirstRangeId = FirstRange.RangeId;

    private readonly IPlacementGroup _group;
    private readonly PlacementServiceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>The per-term leader session, shared with the operations front, executor and scheduler.</summary>
    internal PlacementLeadership Leadership { get; }

    /// <summary>TSO batches and latency (null: not recorded).</summary>
    internal TsoMetrics? Metrics { get; init; }

    internal PlacementService(IPlacementGroup group, PlacementServiceOptions options, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _group = group;
        _options = options;
        _time = time;
        _logger = logger;
        Leadership = new PlacementLeadership(group, time, options.StoreLivenessTimeout, (long)options.TsoWindow.TotalMilliseconds, new TsoLeaseOptions
        {
            LeaseMs = (long)options.TsoLease.TotalMilliseconds,
            MaxDriftRate = options.TsoMaxClockDrift,
            UnsafeServeWithoutLease = options.UnsafeTsoWithoutLease,
        });
        Leadership.SessionStarted += term => PlacementServiceLog.LeaderSessionStarted(_logger, _group.LocalMemberId, term);
    }

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    // ---- Writes ----

    public override async Task<BootstrapResponse> Bootstrap(BootstrapRequest request, ServerCallContext context)
    {
        var response = new BootstrapResponse();
        response.Header = await RunAsync(request.Header, context, async (session, ct) =>
        {
            var snapshot = _group.State.Snapshot;
            if (snapshot.IsBootstrapped)
            {
                return Error(PlacementErrorCode.PlacementErrorAlreadyBootstrapped,
                    $"the cluster is already bootstrapped as {snapshot.ClusterId}; nothing to do (use that cluster id)");
            }

            var members = _group.Members;
            if (members.Count == 0)
            {
                return Error(PlacementErrorCode.PlacementErrorInvalidArgument, "no placement members are configured: configure the placement members and restart the nodes");
            }

            // At most the replication factor's worth of members get a replica (not all 5 of a
            // 5-member group): every later range inherits its parent's replicas at split.
            var firstRange = FirstRange.Build(members);
            var command = new BootstrapCommand
            {
                ClusterId = Guid.NewGuid().ToString("N"),
                FirstRange = firstRange,
                AtMs = NowMs,
                IdFloor = BootstrapIdFloor,
            };
            var result = await _group.ProposeAsync(new PlacementCommand { Bootstrap = command }, ct);
            if (result.Code != PlacementErrorCode.PlacementErrorNone)
            {
                return Error(result.Code, result.Message);
            }

            PlacementServiceLog.Bootstrapped(_logger, result.ClusterId, firstRange.Replicas.Count);
            response.FirstRange = result.FirstRange!.Clone();
            return null;
        });
        return response;
    }

    public override async Task<StoreHeartbeatResponse> StoreHeartbeat(StoreHeartbeatRequest request, ServerCallContext context)
    {
        var response = new StoreHeartbeatResponse();
        response.Header = await RunAsync(request.Header, context, async (session, ct) =>
        {
            if (PlacementState.CheckStore(request.Store) is { } invalid)
            {
                return Error(PlacementErrorCode.PlacementErrorInvalidArgument, invalid);
            }

            // No read barrier: a stale view can only say "not bootstrapped" (the store retries) or
            // propose a PutStore that turns out to be a no-op; the apply re-checks conflicts.
            var snapshot = _group.State.Snapshot;
            if (!snapshot.IsBootstrapped)
            {
                response.Bootstrapped = false;
                return null;
            }

            var store = request.Store;
            // A removed store is refused even when its descriptor is unchanged (no PutStore is
            // proposed then, so the apply's own refusal would not be reached).
            if (snapshot.StoreAdminState(store.StoreId) == StoreAdminState.Removed)
            {
                return Error(PlacementErrorCode.PlacementErrorStoreRemoved, PlacementState.StoreRemovedMessage(store.StoreId));
            }

            snapshot.Stores.TryGetValue(store.StoreId, out var known);
            if (known is not null && !string.Equals(known.StoreUuid, store.StoreUuid, StringComparison.Ordinal))
            {
                return Error(PlacementErrorCode.PlacementErrorStoreIdConflict, PlacementState.StoreConflictMessage(known, store));
            }

            if (known is null || !known.Equals(store))
            {
                var result = await _group.ProposeAsync(new PlacementCommand { PutStore = new PutStoreCommand { Store = store.Clone() } }, ct);
                if (result.Code != PlacementErrorCode.PlacementErrorNone)
                {
                    return Error(result.Code, result.Message);
                }

                if (result.Changed)
                {
                    PlacementServiceLog.StoreRegistered(_logger, store.StoreId, store.Address, store.Version);
                }
            }

            session.Liveness.RecordHeartbeat(store.StoreId, request.Stats, NowMs);
            response.Bootstrapped = true;
            // Only while the directory still holds this store's bootstrap replica (see InitialRangeFor).
            response.InitialRange = _group.State.Snapshot.InitialRangeFor(store.StoreId)?.Clone();
            response.GcSafePoint = _group.State.Snapshot.Gc.SafePoint.Value;
            return null;
        });
        return response;
    }

    public override async Task<RangeHeartbeatResponse> RangeHeartbeat(RangeHeartbeatRequest request, ServerCallContext context)
    {
        var response = new RangeHeartbeatResponse();
        response.Header = await RunAsync(request.Header, context, async (session, ct) =>
        {
            if (PlacementState.CheckRange(request.Range) is { } invalid)
            {
                return Error(PlacementErrorCode.PlacementErrorInvalidArgument, invalid);
            }

            var range = request.Range;
            var leader = request.Leader;
            if (leader is null || !IsReplicaOf(range, leader))
            {
                return Error(PlacementErrorCode.PlacementErrorInvalidArgument,
                    $"range {range.RangeId}: the leader must be one of the range's replicas (replica_id and store_id as in the descriptor)");
            }

            var snapshot = _group.State.Snapshot;
            if (!snapshot.IsBootstrapped)
            {
                return NotBootstrappedError();
            }

            session.RangeLeaders.Report(range.RangeId, range.Epoch, leader, request.ApproximateSizeBytes, NowMs);
            // A split origin is proposed even with a descriptor already known: the apply records it.
            bool newSplit = request.Split is not null && !snapshot.Ops.Splits.ContainsKey(range.RangeId);
            if (snapshot.WhyStale(range) is null || newSplit)
            {
                var result = await _group.ProposeAsync(new PlacementCommand { PutRange = new PutRangeCommand { Range = range.Clone(), Split = request.Split?.Clone() } }, ct);
                if (result.Code != PlacementErrorCode.PlacementErrorNone)
                {
                    return Error(result.Code, result.Message);
                }
            }

            return null;
        });
        return response;
    }

    public override async Task<AllocIdResponse> AllocId(AllocIdRequest request, ServerCallContext context)
    {
        var response = new AllocIdResponse();
        response.Header = await RunAsync(request.Header, context, async (session, ct) =>
        {
            if (request.Count == 0 || request.Count > _options.MaxAllocIdCount)
            {
                return Error(PlacementErrorCode.PlacementErrorInvalidArgument, $"count {request.Count} is out of range: ask for 1 to {_options.MaxAllocIdCount} ids");
            }

            if (!_group.State.Snapshot.IsBootstrapped)
            {
                return NotBootstrappedError();
            }

            var result = await _group.ProposeAsync(new PlacementCommand { AllocId = new AllocIdCommand { Count = request.Count } }, ct);
            if (result.Code != PlacementErrorCode.PlacementErrorNone)
            {
                return Error(result.Code, result.Message);
            }

            response.First = result.FirstId;
            response.Count = request.Count;
            return null;
        });
        return response;
    }

    public override async Task<GetTimestampResponse> GetTimestamp(GetTimestampRequest request, ServerCallContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var response = new GetTimestampResponse();
        response.Header = await RunAsync(request.Header, context, async (session, ct) =>
        {
            if (request.Count == 0 || request.Count > _options.MaxTimestampCount)
            {
                return Error(PlacementErrorCode.PlacementErrorInvalidArgument, $"count {request.Count} is out of range: ask for 1 to {_options.MaxTimestampCount} timestamps");
            }

            var (last, error) = await AllocateAsync(session, request.Count, ct);
            if (error is null)
            {
                response.Last = last.Value;
                response.Count = request.Count;
                Metrics?.Served(request.Count, started);
            }

            return error;
        });
        return response;
    }

    /// <summary>Rule 2 of TsoLease: a new leader serves nothing before every earlier leader's lease has ended.</summary>
    private async Task WaitOutEarlierLeadersAsync(LeaderSession session, CancellationToken ct)
    {
        long wait = session.Lease.ServeNotBeforeMs - Leadership.MonotonicNowMs();
        if (wait > 0)
        {
            PlacementServiceLog.TsoWaitingOutLease(_logger, session.Term, wait);
            await Task.Delay(TimeSpan.FromMilliseconds(wait), _time, ct);
        }
    }

    /// <summary>
    /// Rule 1 of TsoLease: reads the monotonic clock BEFORE the read barrier (a quorum heartbeat
    /// round in this term), so the lease never outlives what the quorum's acknowledgement allows.
    /// Throws <see cref="PlacementNotLeaderException"/> when the quorum refuses (a newer term).
    /// </summary>
    private async Task RenewLeaseAsync(LeaderSession session, CancellationToken ct)
    {
        long roundStartedAt = Leadership.MonotonicNowMs();
        await _group.ReadBarrierAsync(ct);
        if (_group.LeaderTerm != session.Term)
        {
            throw new PlacementNotLeaderException(_group.LeaderId);
        }

        lock (session.LeaseLock)
        {
            session.Lease.Confirmed(roundStartedAt);
        }
    }

    /// <summary>
    /// When less than half the lease is left, renews it in the background (one renewal at a time
    /// per term), so callers rarely wait for a heartbeat round; renewal in the request path stays
    /// the fallback.
    /// </summary>
    private void RenewLeaseAhead(LeaderSession session)
    {
        bool due;
        lock (session.LeaseLock)
        {
            due = session.Lease.ShouldRenew(Leadership.MonotonicNowMs());
        }

        if (!due || Interlocked.CompareExchange(ref session.RenewingLease, 1, 0) != 0)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                using var timeout = new CancellationTokenSource(_options.ProposalTimeout);
                await RenewLeaseAsync(session, timeout.Token);
            }
            catch (Exception ex) when (ex is PlacementNotLeaderException or OperationCanceledException)
            {
                // No quorum in this term: the lease runs out and the request path reports it.
                PlacementServiceLog.TsoLeaseRenewalFailed(_logger, session.Term, ex.Message);
            }
            finally
            {
                Volatile.Write(ref session.RenewingLease, 0);
            }
        });
    }

    /// <summary>
    /// The TSO's now for code on the placement leader (the GC front checks a safe point against
    /// it): one fresh timestamp, served like any other. Throws <see cref="PlacementNotLeaderException"/>
    /// when this node does not lead.
    /// </summary>
    internal async Task<(Timestamp Now, PlacementError? Error)> NowAsync(CancellationToken ct)
    {
        var session = CurrentSession() ?? throw new PlacementNotLeaderException(_group.LeaderId);
        return await AllocateAsync(session, 1, ct);
    }

    /// <summary><paramref name="count"/> timestamps (the last one), extending the persisted window when needed.</summary>
    private async Task<(Timestamp Last, PlacementError? Error)> AllocateAsync(LeaderSession session, uint count, CancellationToken ct)
    {
        // One caller at a time: callers that queue here while one extends the window are
        // served from that extension (the extension reaches a whole window past the clock).
        await session.TsoLock.WaitAsync(ct);
        try
        {
            if (!session.TsoReady)
            {
                // Rule 2 of TsoLease: wait out every earlier leader's lease, then one read
                // barrier both confirms this term's lease (rule 1) and reads the persisted
                // window every earlier leader served below (rule 3).
                await WaitOutEarlierLeadersAsync(session, ct);
                await RenewLeaseAsync(session, ct);
                session.Tso.Reset(_group.State.Snapshot.TsoWindowEndMs);
                session.TsoReady = true;
                PlacementServiceLog.TsoStarted(_logger, session.Term, session.Tso.Last.PhysicalMs);
            }

            for (int attempt = 0; ; attempt++)
            {
                if (_group.LeaderTerm != session.Term)
                {
                    throw new PlacementNotLeaderException(_group.LeaderId);
                }

                TsoLeaseCheck lease;
                lock (session.LeaseLock)
                {
                    lease = session.Lease.Check(Leadership.MonotonicNowMs());
                }

                if (lease != TsoLeaseCheck.Serve)
                {
                    if (attempt == 3)
                    {
                        return (Timestamp.Zero, Error(PlacementErrorCode.PlacementErrorUnavailable,
                            $"this placement leader (term {session.Term}) could not renew its TSO lease with a quorum after {attempt} heartbeat rounds; retry after backoff (another member may be taking over)"));
                    }

                    // Expired (say, after a pause): only a fresh quorum round may extend it.
                    // A quorum that moved to a newer term refuses, and this node steps down.
                    await WaitOutEarlierLeadersAsync(session, ct);
                    await RenewLeaseAsync(session, ct);
                    continue;
                }

                long now = NowMs;
                long windowEnd = _group.State.Snapshot.TsoWindowEndMs;
                var step = session.Tso.Allocate(now, windowEnd, count);
                if (step.IsAllocated)
                {
                    ExtendAhead(session, Math.Max(now, step.Last.PhysicalMs), windowEnd);
                    RenewLeaseAhead(session);
                    return (step.Last, null);
                }

                if (attempt == 3)
                {
                    return (Timestamp.Zero, Error(PlacementErrorCode.PlacementErrorUnavailable,
                        $"the TSO window did not reach {step.NeedWindowEndMs} ms after {attempt} extensions; retry after backoff"));
                }

                Metrics?.Extended();
                var result = await _group.ProposeAsync(new PlacementCommand { ExtendTsoWindow = new ExtendTsoWindowCommand { EndMs = step.NeedWindowEndMs } }, ct);
                if (result.Code != PlacementErrorCode.PlacementErrorNone)
                {
                    return (Timestamp.Zero, Error(PlacementErrorCode.PlacementErrorUnavailable, $"could not extend the TSO window: {result.Message}"));
                }
            }
        }
        finally
        {
            session.TsoLock.Release();
        }
    }

    /// <summary>
    /// When less than a third of the window is left ahead of <paramref name="servedMs"/>, extends
    /// it in the background (one extension at a time per term), so callers rarely wait for a
    /// Raft round; the extension in the request path stays the fallback.
    /// </summary>
    private void ExtendAhead(LeaderSession session, long servedMs, long windowEnd)
    {
        long windowMs = session.Tso.WindowMs;
        if (windowEnd - servedMs >= windowMs / 3 || Interlocked.CompareExchange(ref session.ExtendingAhead, 1, 0) != 0)
        {
            return;
        }

        long end = servedMs + windowMs;
        _ = Task.Run(async () =>
        {
            try
            {
                using var timeout = new CancellationTokenSource(_options.ProposalTimeout);
                await _group.ProposeAsync(new PlacementCommand { ExtendTsoWindow = new ExtendTsoWindowCommand { EndMs = end } }, timeout.Token);
            }
            catch (Exception ex) when (ex is PlacementNotLeaderException or OperationCanceledException)
            {
                // Leadership moved or no quorum: the next request extends in its own path (and reports it).
                PlacementServiceLog.ExtendAheadFailed(_logger, session.Term, ex.Message);
            }
            finally
            {
                Volatile.Write(ref session.ExtendingAhead, 0);
            }
        });
    }

    // ---- Reads (after a read barrier) ----

    public override async Task<GetClusterInfoResponse> GetClusterInfo(GetClusterInfoRequest request, ServerCallContext context)
    {
        var response = new GetClusterInfoResponse();
        response.Header = await RunAsync(request.Header, context, async (session, ct) =>
        {
            await _group.ReadBarrierAsync(ct);
            var snapshot = _group.State.Snapshot;
            long now = NowMs;
            response.Bootstrapped = snapshot.IsBootstrapped;
            response.BootstrappedAtMs = snapshot.BootstrappedAtMs;
            response.Members.AddRange(_group.Members.Select(m => m.Clone()));
            response.Leader = MemberOrUnknown(_group.LocalMemberId);
            response.StoreCount = (uint)snapshot.Stores.Count;
            response.StoresUp = (uint)snapshot.Stores.Keys.Count(id => session.Liveness.Get(id, now).State == StoreState.Up);
            response.RangeCount = (uint)snapshot.RangesById.Count;
            return null;
        });
        return response;
    }

    /// <summary>The applied state after a linearizable read barrier, or null before bootstrap.</summary>
    private async Task<PlacementSnapshot?> BootstrappedViewAsync(CancellationToken ct)
    {
        await _group.ReadBarrierAsync(ct);
        var snapshot = _group.State.Snapshot;
        return snapshot.IsBootstrapped ? snapshot : null;
    }

    public override async Task<ListStoresResponse> ListStores(ListStoresRequest request, ServerCallContext context)
    {
        var response = new ListStoresResponse();
        response.Header = await RunAsync(request.Header, context, async (session, ct) =>
        {
            if (await BootstrappedViewAsync(ct) is not { } snapshot)
            {
                return NotBootstrappedError();
            }

            long now = NowMs;
            foreach (var (id, store) in snapshot.Stores)
            {
                var liveness = session.Liveness.Get(id, now);
                response.Stores.Add(new StoreInfo
                {
                    Store = store.Clone(),
                    State = liveness.State,
                    Stats = liveness.Stats?.Clone(),
                    LastHeartbeatMs = liveness.LastHeartbeatMs,
                });
            }

            return null;
        });
        return response;
    }

    public override async Task<GetRangeResponse> GetRange(GetRangeRequest request, ServerCallContext context)
    {
        var response = new GetRangeResponse();
        response.Header = await RunAsync(request.Header, context, async (session, ct) =>
        {
            if (await BootstrappedViewAsync(ct) is not { } snapshot)
            {
                return NotBootstrappedError();
            }

            var range = snapshot.FindRange(request.Key.Span);
            if (range is null)
            {
                return Error(PlacementErrorCode.PlacementErrorNotFound,
                    "no range in the directory contains the key (a split is being reported); retry after backoff");
            }

            response.Range = Info(snapshot, session, range);
            return null;
        });
        return response;
    }

    public override async Task<GetRangeResponse> GetRangeById(GetRangeByIdRequest request, ServerCallContext context)
    {
        var response = new GetRangeResponse();
        response.Header = await RunAsync(request.Header, context, async (session, ct) =>
        {
            if (request.RangeId == 0)
            {
                return Error(PlacementErrorCode.PlacementErrorInvalidArgument, "range_id is 0: real range ids start at 1");
            }

            if (await BootstrappedViewAsync(ct) is not { } snapshot)
            {
                return NotBootstrappedError();
            }

            if (!snapshot.RangesById.TryGetValue(request.RangeId, out var range))
            {
                return Error(PlacementErrorCode.PlacementErrorNotFound,
                    $"range {request.RangeId} is not in the directory (never created, or merged away); list ranges with ScanRanges");
            }

            response.Range = Info(snapshot, session, range);
            return null;
        });
        return response;
    }

    public override async Task<ScanRangesResponse> ScanRanges(ScanRangesRequest request, ServerCallContext context)
    {
        var response = new ScanRangesResponse();
        response.Header = await RunAsync(request.Header, context, async (session, ct) =>
        {
            if (request.EndKey.Length > 0 && request.StartKey.Span.SequenceCompareTo(request.EndKey.Span) >= 0)
            {
                return Error(PlacementErrorCode.PlacementErrorInvalidArgument,
                    "start_key must sort before end_key (leave end_key empty to scan to the end of the key space)");
            }

            if (await BootstrappedViewAsync(ct) is not { } snapshot)
            {
                return NotBootstrappedError();
            }

            int limit = (int)Math.Min(request.Limit, int.MaxValue);
            foreach (var range in snapshot.Scan(request.StartKey.Span, request.EndKey.Span, limit))
            {
                response.Ranges.Add(Info(snapshot, session, range));
            }

            return null;
        });
        return response;
    }

    // ---- Plumbing ----

    /// <summary>
    /// Checks the cluster id and leadership, runs <paramref name="body"/> with the leader session
    /// and a token that also fires at the proposal timeout, and turns the outcome into a header.
    /// </summary>
    private async Task<ResponseHeader> RunAsync(RequestHeader? header, ServerCallContext context,
        Func<LeaderSession, CancellationToken, Task<PlacementError?>> body)
    {
        // Only the leader speaks for the cluster. A follower, or a node that holds another
        // cluster's data on a member's address, answers NOT_LEADER without a cluster id: a
        // mismatch it saw would otherwise make a healthy caller believe it is the foreign one.
        var session = CurrentSession();
        if (session is null)
        {
            return new ResponseHeader { Error = NotLeaderError(_group.LeaderId) };
        }

        string clusterId = _group.State.Snapshot.ClusterId;
        string asked = header?.ClusterId ?? string.Empty;
        if (asked.Length > 0 && clusterId.Length > 0 && !string.Equals(asked, clusterId, StringComparison.Ordinal))
        {
            return new ResponseHeader
            {
                ClusterId = clusterId,
                Error = Error(PlacementErrorCode.PlacementErrorClusterIdMismatch,
                    $"this cluster is {clusterId}, the request names cluster {asked}: point the client at the right cluster (or drop the stale cluster id)"),
            };
        }

        PlacementError? error;
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
            timeout.CancelAfter(_options.ProposalTimeout);
            try
            {
                error = await body(session, timeout.Token);
            }
            catch (PlacementNotLeaderException ex)
            {
                error = NotLeaderError(ex.LeaderId != 0 ? ex.LeaderId : _group.LeaderId);
            }
            catch (OperationCanceledException) when (!context.CancellationToken.IsCancellationRequested)
            {
                error = Error(PlacementErrorCode.PlacementErrorUnavailable,
                    $"the placement group did not answer within {_options.ProposalTimeout.TotalSeconds:0.###} s (no quorum, or the leader is catching up); retry after backoff");
            }
        }

        return new ResponseHeader { ClusterId = _group.State.Snapshot.ClusterId, Error = error };
    }

    /// <summary>This term's leader session; null when this node does not lead. A new term starts a fresh session.</summary>
    private LeaderSession? CurrentSession() => Leadership.Current();

    private static RangeInfo Info(PlacementSnapshot snapshot, LeaderSession session, RangeDescriptor range)
    {
        var info = new RangeInfo { Range = range.Clone() };
        if (session.RangeLeaders.Get(range.RangeId) is { } reported)
        {
            info.Leader = reported.Leader.Clone();
            info.ApproximateSizeBytes = reported.ApproximateSizeBytes;
            if (snapshot.Stores.TryGetValue(reported.Leader.StoreId, out var store))
            {
                info.LeaderAddress = store.Address;
            }
        }

        return info;
    }

    private static bool IsReplicaOf(RangeDescriptor range, ReplicaDescriptor replica)
    {
        foreach (var r in range.Replicas)
        {
            if (r.ReplicaId == replica.ReplicaId && r.StoreId == replica.StoreId)
            {
                return true;
            }
        }

        return false;
    }

    private PlacementError NotLeaderError(ulong leaderId)
    {
        var leader = MemberOrUnknown(leaderId);
        string message = !_group.IsMember
            ? "this node is not a placement member; ask one of the members"
            : leader.MemberId == 0
                ? "this node is not the placement leader and no leader is known (an election may be running); retry the members after backoff"
                : $"this node is not the placement leader; member {leader.MemberId} at {leader.Address} is";
        var error = Error(PlacementErrorCode.PlacementErrorNotLeader, message);
        error.Leader = leader;
        error.Members.AddRange(_group.Members.Select(m => m.Clone()));
        return error;
    }

    private PlacementMember MemberOrUnknown(ulong memberId)
    {
        if (memberId != 0)
        {
            foreach (var member in _group.Members)
            {
                if (member.MemberId == memberId)
                {
                    return member.Clone();
                }
            }
        }

        return new PlacementMember { MemberId = memberId };
    }

    private static PlacementError NotBootstrappedError() => Error(PlacementErrorCode.PlacementErrorNotBootstrapped,
        "the cluster has not been bootstrapped yet: run `kvctl cluster bootstrap` (or `kvctl local up`)");

    private static PlacementError Error(PlacementErrorCode code, string message) => new() { Code = code, Message = message };
}

internal static partial class PlacementServiceLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Placement: leading in term {Term} (member {NodeId}); store liveness and the TSO start fresh")]
    public static partial void LeaderSessionStarted(ILogger logger, ulong nodeId, ulong term);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Placement: bootstrapped cluster {ClusterId} with {Replicas} replicas of the first range")]
    public static partial void Bootstrapped(ILogger logger, string clusterId, int replicas);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Placement: store {StoreId} registered at {Address} (version {Version})")]
    public static partial void StoreRegistered(ILogger logger, ulong storeId, string address, string version);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Placement: extending the TSO window ahead failed in term {Term}: {Reason}")]
    public static partial void ExtendAheadFailed(ILogger logger, ulong term, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Placement: TSO serving in term {Term} above {FloorMs} ms")]
    public static partial void TsoStarted(ILogger logger, ulong term, long floorMs);

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Placement: TSO in term {Term} waits {WaitMs} ms for earlier leaders' leases to end")]
    public static partial void TsoWaitingOutLease(ILogger logger, ulong term, long waitMs);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "Placement: renewing the TSO lease failed in term {Term}: {Reason}")]
    public static partial void TsoLeaseRenewalFailed(ILogger logger, ulong term, string reason);
}
