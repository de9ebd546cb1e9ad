using System.Runtime.CompilerServices;
using Grpc.Core;
using Kv.Client.Cluster;
using Kv.Client.Transport;
using Kv.Client.Views;
using Kv.Proto.V1;

namespace Kv.Client.Administration;

/// <summary>
/// The admin API (kv.v1.Admin: operations, stores, scheduler, audit, settings) for kvctl, the
/// module and the operator, apart from the data client <see cref="KvClient"/>. It returns the view
/// records of <see cref="Views"/>.
///
/// Contract:
/// 1. Every call goes to the placement leader. A node that is not the leader answers NOT_LEADER
///    with the leader and the members; the client follows the hint (at most three times without
///    waiting), adds the members to the addresses it rotates through, and otherwise backs off
///    (exponential, full jitter, capped) until the options' RequestTimeout, then throws
///    KvException(Unavailable) naming what it tried. PlacementError UNAVAILABLE and transport
///    failures are retried the same way.
/// 2. Any other PlacementError is a <see cref="KvAdminException"/> carrying the server's code and
///    message; nothing changed.
/// 3. SubmitAsync sends a client-chosen id (the request's, or a fresh one): resubmitting the same
///    request after an unknown outcome returns the recorded operation (Created false), never a second one.
/// 4. WatchAsync streams the record until it finishes; when the stream breaks (a leader change
///    ends it with UNAVAILABLE) it watches again at the new leader and skips the records it
///    already yielded (by revision). Each reconnection has RequestTimeout to succeed.
/// Arguments are checked before any call (ArgumentException says what is wrong).
/// </summary>
public sealed class KvAdminClient : IAsyncDisposable
{
    /// <summary>The longest maintenance window placement accepts.</summary>
    public static readonly TimeSpan MaxMaintenance = TimeSpan.FromDays(7);

    private readonly KvClientOptions _options;
    private readonly ChannelPool _channels;
    private readonly PlacementClient _placement;
    private readonly Func<double> _random;

    private KvAdminClient(IReadOnlyList<string> endpoints, KvClientOptions options, string who)
    {
        _options = options;
        Endpoints = endpoints;
        Who = who;
        _channels = new ChannelPool(options.Channel);
        _placement = new PlacementClient(_channels, endpoints);
        _random = Backoff.Jitter(options.RandomSeed);
    }

    public IReadOnlyList<string> Endpoints { get; }

    /// <summary>Who asks: sent as requested_by / who with every change (the audit log's "who").</summary>
    public string Who { get; }

    /// <summary>The placement leader's address as last learned, or null.</summary>
    public string? PlacementLeader => _placement.Leader;

    /// <summary>
    /// A client for the cluster at any of <paramref name="endpoints"/> (host:port). Does no I/O.
    /// <paramref name="who"/> defaults to the OS user name. Throws ArgumentException for a
    /// malformed endpoint or option.
    /// </summary>
    public static KvAdminClient Connect(IReadOnlyList<string> endpoints, KvClientOptions? options = null, string? who = null)
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

        return new KvAdminClient(normalized, options, string.IsNullOrWhiteSpace(who) ? DefaultWho() : who);
    }

    // ---- Operations ----

    /// <summary>The dry run: the plan and preflight a submit would record. Changes nothing.</summary>
    public async Task<PlanView> PlanAsync(OperationRequest request, CancellationToken cancellationToken = default)
    {
        Check(request);
        var response = await CallAsync($"plan {Describe(request)}", static (s, r, o) => s.Admin.PlanOperationAsync(r, o),
            h => new PlanOperationRequest { Header = h, Spec = request.ToSpec(), Reason = request.Reason ?? string.Empty }, static r => r.Error, cancellationToken).ConfigureAwait(false);
        return PlanView.From(response.Plan);
    }

    /// <summary>
    /// Plans and records the operation (placement's executor runs it). Created is false when the
    /// id was already recorded with this content (a resubmit). A plan whose preflight is not safe
    /// is refused (KvAdminException FAILED_PRECONDITION) unless Force with a Reason.
    /// </summary>
    public async Task<SubmitResult> SubmitAsync(OperationRequest request, CancellationToken cancellationToken = default)
    {
        Check(request);
        var id = request.Id ?? OperationId.New();
        var response = await CallAsync($"submit operation {id} ({Describe(request)})", static (s, r, o) => s.Admin.SubmitOperationAsync(r, o),
            h => new SubmitOperationRequest { Header = h, Id = id.Value, Spec = request.ToSpec(), RequestedBy = Who, Reason = request.Reason ?? string.Empty },
            static r => r.Error, cancellationToken).ConfigureAwait(false);
        return new SubmitResult(OperationView.From(response.Operation ?? new OperationRecord { Id = id.Value }), response.Created);
    }

    public async Task<OperationView> GetAsync(OperationId id, CancellationToken cancellationToken = default)
    {
        CheckId(id);
        var response = await CallAsync($"read operation {id}", static (s, r, o) => s.Admin.GetOperationAsync(r, o),
            h => new GetOperationRequest { Header = h, Id = id.Value }, static r => r.Error, cancellationToken).ConfigureAwait(false);
        return OperationView.From(response.Operation ?? new OperationRecord { Id = id.Value });
    }

    /// <summary>Operations newest first; states empty or null: all; limit 0: the server's default (100), at most 1000.</summary>
    public async Task<IReadOnlyList<OperationView>> ListAsync(
        IReadOnlyCollection<OperationStateView>? states = null, int limit = 0, DateTimeOffset? since = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 1000);
        var request = new ListOperationsRequest { Limit = (uint)limit, SinceMs = since?.ToUnixTimeMilliseconds() ?? 0 };
        foreach (var state in states ?? [])
        {
            request.States.Add(ViewEnums.ToProto(state));
        }

        var response = await CallAsync("list operations", static (s, r, o) => s.Admin.ListOperationsAsync(r, o),
            h => request.Clone().WithHeader(h), static r => r.Error, cancellationToken).ConfigureAwait(false);
        return [.. response.Operations.Select(OperationView.From)];
    }

    /// <summary>
    /// The record now, then every change, until it finishes (the last item is the final record)
    /// or the caller cancels. Survives leader changes (contract step 4).
    /// </summary>
    public async IAsyncEnumerable<OperationView> WatchAsync(OperationId id, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        CheckId(id);
        var what = $"watch operation {id}";
        var op = NewOperation(what, cancellationToken);
        ulong lastRevision = 0;
        var yielded = false;
        var hintsFollowed = 0;
        while (true)
        {
            var address = _placement.Target();
            _ = op.StartAttempt(address); // the reconnection budget: throws Unavailable once it is spent

            // No deadline on the stream itself: an operation may run for hours.
            using var call = _channels.Get(address).Admin.WatchOperation(
                new WatchOperationRequest { Header = new RequestHeader { ClusterId = _placement.ClusterId }, Id = id.Value },
                new CallOptions(cancellationToken: cancellationToken));
            var rewatch = false;
            while (!rewatch)
            {
                WatchOperationResponse? message = null;
                RpcException? broken = null;
                try
                {
                    if (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
                    {
                        message = call.ResponseStream.Current;
                    }
                }
                catch (RpcException e) when (op.IsRetryable(e))
                {
                    broken = e;
                }
                catch (RpcException e)
                {
                    throw op.Fail(address, e);
                }

                if (broken is not null || message is null)
                {
                    // A leader change (UNAVAILABLE), a dropped connection, or a stream that ended
                    // before the final record: watch again, at the leader placement names next.
                    if (broken is not null)
                    {
                        op.Note(address, broken);
                    }
                    else
                    {
                        op.Note(address, "the watch ended before the operation finished", transport: false);
                    }

                    _placement.Forget(address);
                    await op.BackoffAsync().ConfigureAwait(false);
                    rewatch = true;
                    continue;
                }

                if (message.Error is { Code: not PlacementErrorCode.PlacementErrorNone } error)
                {
                    var detail = string.IsNullOrEmpty(error.Message) ? error.Code.ToString() : error.Message;
                    if (error.Code == PlacementErrorCode.PlacementErrorNotLeader)
                    {
                        op.Note(address, "not the placement leader: " + detail, transport: false);
                        if (!(_placement.FollowHint(address, error) && hintsFollowed++ < 3))
                        {
                            await op.BackoffAsync().ConfigureAwait(false);
                        }
                    }
                    else if (error.Code == PlacementErrorCode.PlacementErrorUnavailable)
                    {
                        op.Note(address, "placement unavailable: " + detail, transport: false);
                        await op.BackoffAsync().ConfigureAwait(false);
                    }
                    else
                    {
                        throw Refusal(what, error);
                    }

                    rewatch = true;
                    continue;
                }

                _placement.MarkLeader(address);
                var view = OperationView.From(message.Operation ?? new OperationRecord { Id = id.Value });

                // Progress: a later break gets a fresh reconnection budget.
                op = NewOperation(what, cancellationToken);
                hintsFollowed = 0;
                if (!yielded || view.Revision == 0 || view.Revision > lastRevision)
                {
                    yielded = true;
                    lastRevision = Math.Max(lastRevision, view.Revision);
                    yield return view;
                }

                if (view.IsFinished)
                {
                    yield break;
                }
            }
        }
    }

    /// <summary>Watches until the operation finishes, reporting every record on the way; returns the final record.</summary>
    public async Task<OperationView> WaitAsync(OperationId id, IProgress<OperationView>? progress = null, CancellationToken cancellationToken = default)
    {
        OperationView? last = null;
        await foreach (var view in WatchAsync(id, cancellationToken).ConfigureAwait(false))
        {
            last = view;
            progress?.Report(view);
        }

        return last ?? throw new KvException(KvErrorKind.Internal, $"the watch of operation {id} ended without a record");
    }

    /// <summary>
    /// Submits <paramref name="request"/> and waits for it to finish: the final record when it
    /// succeeded. A refusal at submit is a <see cref="KvAdminException"/> (nothing was recorded);
    /// an operation that failed or was cancelled is a <see cref="KvOperationFailedException"/>
    /// carrying its final record (what its finished steps did stays done). The request is given an
    /// id once (its own, or a fresh one) before the submit, so the client's own retries of the
    /// submit are idempotent; a caller that retries RunAsync after an unknown outcome should pass
    /// the same id (<see cref="OperationRequest.WithNewId"/>) to follow the first operation
    /// instead of starting a second. Cancelling the token stops waiting, not the operation.
    /// </summary>
    public async Task<OperationView> RunAsync(OperationRequest request, IProgress<OperationView>? progress = null, CancellationToken cancellationToken = default)
    {
        Check(request);
        var submitted = await SubmitAsync(request.Id is null ? request.WithNewId() : request, cancellationToken).ConfigureAwait(false);
        var final = submitted.Operation.IsFinished ? submitted.Operation : await WaitAsync(submitted.Operation.Id, progress, cancellationToken).ConfigureAwait(false);
        return final.State == OperationStateView.Succeeded ? final : throw new KvOperationFailedException(final);
    }

    /// <summary>
    /// Cancels: a pending operation at once; a running one after its current step finishes or rolls
    /// back (CancelRequested in the record). A finished one is refused (FAILED_PRECONDITION).
    /// </summary>
    public async Task<OperationView> CancelAsync(OperationId id, string? reason = null, CancellationToken cancellationToken = default)
    {
        CheckId(id);
        var response = await CallAsync($"cancel operation {id}", static (s, r, o) => s.Admin.CancelOperationAsync(r, o),
            h => new CancelOperationRequest { Header = h, Id = id.Value, Who = Who, Reason = reason ?? string.Empty }, static r => r.Error, cancellationToken).ConfigureAwait(false);
        return OperationView.From(response.Operation ?? new OperationRecord { Id = id.Value });
    }

    // ---- Stores ----

    /// <summary>Stops a drain while the store still holds a replica; what already moved stays.</summary>
    public async Task<StoreView> UndrainStoreAsync(StoreId store, string? reason = null, CancellationToken cancellationToken = default)
    {
        CheckStore(store);
        var response = await CallAsync($"undrain store {store}", static (s, r, o) => s.Admin.UndrainStoreAsync(r, o),
            h => new UndrainStoreRequest { Header = h, StoreId = store.Value, Who = Who, Reason = reason ?? string.Empty }, static r => r.Error, cancellationToken).ConfigureAwait(false);
        return StoreView.From(response.Store ?? new StoreStatus());
    }

    /// <summary>DRAINED to REMOVED, final: the store may never register again.</summary>
    public async Task<StoreView> RemoveStoreAsync(StoreId store, string? reason = null, CancellationToken cancellationToken = default)
    {
        CheckStore(store);
        var response = await CallAsync($"remove store {store}", static (s, r, o) => s.Admin.RemoveStoreAsync(r, o),
            h => new RemoveStoreRequest { Header = h, StoreId = store.Value, Who = Who, Reason = reason ?? string.Empty }, static r => r.Error, cancellationToken).ConfigureAwait(false);
        return StoreView.From(response.Store ?? new StoreStatus());
    }

    /// <summary>A maintenance window of <paramref name="duration"/> (at most 7 days; zero ends it now).</summary>
    public async Task<StoreView> SetStoreMaintenanceAsync(StoreId store, TimeSpan duration, string? reason = null, CancellationToken cancellationToken = default)
    {
        CheckStore(store);
        if (duration < TimeSpan.Zero || duration > MaxMaintenance)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "a maintenance window lasts from 0 (end it now) to 7 days");
        }

        var response = await CallAsync($"set a maintenance window on store {store}", static (s, r, o) => s.Admin.SetStoreMaintenanceAsync(r, o),
            h => new SetStoreMaintenanceRequest { Header = h, StoreId = store.Value, DurationMs = (long)duration.TotalMilliseconds, Who = Who, Reason = reason ?? string.Empty },
            static r => r.Error, cancellationToken).ConfigureAwait(false);
        return StoreView.From(response.Store ?? new StoreStatus());
    }

    public async Task<IReadOnlyList<StoreView>> ListStoreStatusAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("list the stores' status", static (s, r, o) => s.Admin.ListStoreStatusAsync(r, o),
            h => new ListStoreStatusRequest { Header = h }, static r => r.Error, cancellationToken).ConfigureAwait(false);
        return [.. response.Stores.Select(StoreView.From).OrderBy(s => s.Id.Value)];
    }

    // ---- Scheduler, audit, settings ----

    public async Task<SchedulerStatusView> GetSchedulerStatusAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("read the scheduler's status", static (s, r, o) => s.Admin.GetSchedulerStatusAsync(r, o),
            h => new GetSchedulerStatusRequest { Header = h }, static r => r.Error, cancellationToken).ConfigureAwait(false);
        return SchedulerStatusView.From(response);
    }

    /// <summary>Pauses the scheduler: it submits nothing new; its running operations continue (cancel them to stop them).</summary>
    public Task PauseSchedulerAsync(string? reason = null, CancellationToken cancellationToken = default) => SetSchedulerPausedAsync(true, reason, cancellationToken);

    public Task ResumeSchedulerAsync(string? reason = null, CancellationToken cancellationToken = default) => SetSchedulerPausedAsync(false, reason, cancellationToken);

    /// <summary>Audit entries oldest first from <paramref name="since"/> (null: the oldest kept); limit 0: 200, at most 10000.</summary>
    public async Task<IReadOnlyList<AuditEntryView>> ListAuditAsync(
        DateTimeOffset? since = null, int limit = 0, OperationId? operation = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10000);
        var response = await CallAsync("list the audit log", static (s, r, o) => s.Admin.ListAuditAsync(r, o),
            h => new ListAuditRequest { Header = h, SinceMs = since?.ToUnixTimeMilliseconds() ?? 0, Limit = (uint)limit, OperationId = operation?.Value ?? string.Empty },
            static r => r.Error, cancellationToken).ConfigureAwait(false);
        return [.. response.Entries.Select(AuditEntryView.From)];
    }

    public async Task<ClusterSettingsView> GetSettingsAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("read the cluster settings", static (s, r, o) => s.Admin.GetClusterSettingsAsync(r, o),
            h => new GetClusterSettingsRequest { Header = h }, static r => r.Error, cancellationToken).ConfigureAwait(false);
        return ClusterSettingsView.From(response.Settings);
    }

    /// <summary>Changes the settings given (null: unchanged). The replication factor is 1 to 7.</summary>
    public async Task<ClusterSettingsView> UpdateSettingsAsync(uint? replicationFactor, string? reason = null, CancellationToken cancellationToken = default)
    {
        if (replicationFactor is < 1 or > 7)
        {
            throw new ArgumentOutOfRangeException(nameof(replicationFactor), replicationFactor, "the replication factor is 1 to 7");
        }

        var response = await CallAsync("update the cluster settings", static (s, r, o) => s.Admin.UpdateClusterSettingsAsync(r, o),
            h =>
            {
                var request = new UpdateClusterSettingsRequest { Header = h, Who = Who, Reason = reason ?? string.Empty };
                if (replicationFactor is { } rf)
                {
                    request.ReplicationFactor = rf;
                }

                return request;
            },
            static r => r.Error, cancellationToken).ConfigureAwait(false);
        return ClusterSettingsView.From(response.Settings);
    }

    // ---- GC ----

    /// <summary>The GC safe point, the candidate a round would publish now, and every service safe point.</summary>
    public async Task<GcStatusView> GetGcStatusAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("read the GC status", static (s, r, o) => s.Admin.GetGcStatusAsync(r, o),
            h => new GetGcStatusRequest { Header = h }, static r => r.Error, cancellationToken).ConfigureAwait(false);
        return GcStatusView.From(response.Status);
    }

    /// <summary>
    /// Moves the GC safe point up to <paramref name="safePoint"/>. Refused (KvAdminException, nothing
    /// changes) when it is below the current one (it never moves back), above the TSO's now, or above
    /// a live service safe point.
    /// </summary>
    public async Task<GcStatusView> SetGcSafePointAsync(Timestamp safePoint, string? reason = null, CancellationToken cancellationToken = default)
    {
        if (safePoint == Timestamp.Zero)
        {
            throw new ArgumentException("safe point 0 is no timestamp: give one (`kvctl gc status` shows the current safe point and now)", nameof(safePoint));
        }

        var response = await CallAsync($"set the GC safe point to {safePoint}", static (s, r, o) => s.Admin.SetGcSafePointAsync(r, o),
            h => new SetGcSafePointRequest { Header = h, SafePoint = safePoint.Value, Who = Who, Reason = reason ?? string.Empty },
            static r => r.Error, cancellationToken).ConfigureAwait(false);
        return GcStatusView.From(response.Status);
    }

    /// <summary>
    /// Creates or renews the service safe point <paramref name="name"/> (owned by <see cref="Who"/>):
    /// GC keeps every version visible at <paramref name="ts"/> until <paramref name="ttl"/> after this
    /// call. Renew it within the TTL while the service runs.
    /// </summary>
    public async Task<ServiceSafePointView> SetServiceSafePointAsync(string name, Timestamp ts, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "a service safe point needs a TTL above zero (the time within which the service renews it)");
        }

        if (ts == Timestamp.Zero)
        {
            throw new ArgumentException("ts 0 is no timestamp: give the timestamp the service reads at", nameof(ts));
        }

        var response = await CallAsync($"set service safe point '{name}'", static (s, r, o) => s.Admin.SetServiceSafePointAsync(r, o),
            h => new SetServiceSafePointRequest { Header = h, Name = name, Ts = ts.Value, TtlMs = (long)ttl.TotalMilliseconds, Who = Who },
            static r => r.Error, cancellationToken).ConfigureAwait(false);
        return ServiceSafePointView.From(response.ServiceSafePoint);
    }

    /// <summary>Removes a service safe point; another owner's needs <paramref name="force"/> and a <paramref name="reason"/> (audited).</summary>
    public async Task RemoveServiceSafePointAsync(string name, bool force = false, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        await CallAsync($"remove service safe point '{name}'", static (s, r, o) => s.Admin.RemoveServiceSafePointAsync(r, o),
            h => new RemoveServiceSafePointRequest { Header = h, Name = name, Who = Who, Force = force, Reason = reason ?? string.Empty },
            static r => r.Error, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>What holds the GC safe point back, lowest bound first. Read-only.</summary>
    public async Task<GcExplanationView> ExplainGcSafePointAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("explain the GC safe point", static (s, r, o) => s.Admin.ExplainGcSafePointAsync(r, o),
            h => new ExplainGcSafePointRequest { Header = h }, static r => r.Error, cancellationToken).ConfigureAwait(false);
        return GcExplanationView.From(response);
    }

    public ValueTask DisposeAsync()
    {
        _channels.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task SetSchedulerPausedAsync(bool paused, string? reason, CancellationToken cancellationToken) =>
        await CallAsync(paused ? "pause the scheduler" : "resume the scheduler", static (s, r, o) => s.Admin.SetSchedulerPausedAsync(r, o),
            h => new SetSchedulerPausedRequest { Header = h, Paused = paused, Who = Who, Reason = reason ?? string.Empty }, static r => r.Error, cancellationToken).ConfigureAwait(false);

    private Task<TResponse> CallAsync<TRequest, TResponse>(
        string what,
        Func<NodeStubs, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call,
        Func<RequestHeader, TRequest> build,
        Func<TResponse, PlacementError?> error,
        CancellationToken cancellationToken) =>
        _placement.CallAsync(call, build, r => error(r) is { } e ? new ResponseHeader { Error = e } : null, NewOperation(what, cancellationToken),
            refuse: (_, e) => Refusal(what, e));

    private static KvAdminException Refusal(string what, PlacementError error)
    {
        var detail = string.IsNullOrEmpty(error.Message) ? error.Code.ToString() : error.Message;
        return new KvAdminException(error.Code, error.Message, $"placement refused to {what}: {detail}");
    }

    private Cluster.Operation NewOperation(string what, CancellationToken cancellationToken) => new(what, _options, _random, cancellationToken);

    private static void Check(OperationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Problem() is { } problem)
        {
            throw new ArgumentException(problem, nameof(request));
        }
    }

    private static void CheckId(OperationId id)
    {
        if (string.IsNullOrEmpty(id.Value))
        {
            throw new ArgumentException("the operation id is empty; operation ids come from submit or `kvctl operation list`", nameof(id));
        }
    }

    private static void CheckStore(StoreId store)
    {
        if (store.Value == 0)
        {
            throw new ArgumentException("store id 0 names no store; store ids start at 1 (see `kvctl store list`)", nameof(store));
        }
    }

    private static string Describe(OperationRequest r) => r.Kind switch
    {
        OperationKindView.Split => $"a split of range {r.RangeId}",
        OperationKindView.AddReplica => $"adding a replica of range {r.RangeId} on store {r.StoreId}",
        OperationKindView.RemoveReplica => $"removing range {r.RangeId}'s replica on store {r.StoreId}",
        OperationKindView.MoveReplica => $"moving range {r.RangeId}'s replica from store {r.FromStoreId} to {(r.ToStoreId is { } to ? $"store {to}" : "a store the planner picks")}",
        OperationKindView.TransferLeader => $"moving range {r.RangeId}'s leadership to store {r.StoreId}",
        OperationKindView.DrainStore => $"a drain of store {r.StoreId}",
        _ => r.Kind.ToString(),
    };

    private static string DefaultWho()
    {
        try
        {
            return Environment.UserName is { Length: > 0 } user ? user : "unknown";
        }
        catch (InvalidOperationException)
        {
            return "unknown";
        }
    }
}

/// <summary>The submitted operation, and whether this call created it (false: the id was already recorded with this content).</summary>
public sealed record SubmitResult(OperationView Operation, bool Created);

internal static class ListOperationsRequestExtensions
{
    public static ListOperationsRequest WithHeader(this ListOperationsRequest request, RequestHeader header)
    {
        request.Header = header;
        return request;
    }
}
