using System.Runtime.CompilerServices;
using Kv.Node.Placement.Operations.Planning;
using Kv.Node.Placement.Scheduler;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations;

/// <summary>
/// What the Admin API asks of the placement leader, one method per request: reads after a read
/// barrier, plans against the current <see cref="ClusterView"/>, changes proposed through the
/// placement group. Contract:
/// <list type="number">
/// <item>Every method throws <see cref="PlacementNotLeaderException"/> when this node does not
/// lead placement (the service answers NOT_LEADER with the leader hint).</item>
/// <item>A refusal is a <see cref="PlacementError"/> saying what was wrong and what to do, and
/// it changes nothing: every check runs before the first proposal, and the apply re-checks.</item>
/// <item>A result without error means the change is committed and applied.</item>
/// </list>
/// </summary>
internal sealed class OperationsFront
{
    /// <summary>Who a change is attributed to when the request names nobody.</summary>
    public const string UnknownCaller = "unknown";

    private readonly PlacementLeadership _leadership;
    private readonly SchedulerStatusBoard _scheduler;

    // The node's key limit (config max-key-bytes): a longer split key is refused before it is
    // recorded, not left for the range leader to refuse the step of an accepted operation.
    private readonly int _maxKeyBytes;

    public OperationsFront(PlacementLeadership leadership, SchedulerStatusBoard scheduler, int maxKeyBytes = 4096)
    {
        ArgumentNullException.ThrowIfNull(leadership);
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxKeyBytes, 1);
        _leadership = leadership;
        _scheduler = scheduler;
        _maxKeyBytes = maxKeyBytes;
    }

    /// <summary>Raised after an operation was submitted or cancelled (the executor wakes up).</summary>
    public event Action? OperationsChanged;

    private IPlacementGroup Group => _leadership.Group;

    private long NowMs => _leadership.Time.GetUtcNow().ToUnixTimeMilliseconds();

    // ---- Operations ----

    /// <summary>The dry run: the plan Submit would record; an unsafe plan comes with its FAILED_PRECONDITION refusal.</summary>
    public async Task<(Plan? Plan, PlacementError? Error)> PlanAsync(OperationSpec? spec, string? reason, CancellationToken ct)
    {
        if (spec is null)
        {
            return (null, Invalid("spec is required: say what the operation should do (kind and its targets)"));
        }

        if (CheckKeyLength(spec) is { } tooLong)
        {
            return (null, tooLong);
        }

        var (session, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        if (snapshot is null)
        {
            return (null, NotBootstrapped());
        }

        var outcome = Planner.Plan(spec, ClusterViews.Build(snapshot, session, NowMs), reason);
        return (outcome.Plan, outcome.Refusal is { } r ? Refused(r) : null);
    }

    /// <summary>Plans and records the operation; a resubmit of the same content returns the existing record (created false).</summary>
    public async Task<(OperationRecord? Operation, bool Created, PlacementError? Error)> SubmitAsync(
        string? id, OperationSpec? spec, string? requestedBy, string? reason, CancellationToken ct)
    {
        if (OperationRules.CheckId(id) is { } badId)
        {
            return (null, false, Invalid(badId));
        }

        if (spec is null)
        {
            return (null, false, Invalid("spec is required: say what the operation should do (kind and its targets)"));
        }

        if (CheckKeyLength(spec) is { } tooLong)
        {
            return (null, false, tooLong);
        }

        string who = string.IsNullOrWhiteSpace(requestedBy) ? UnknownCaller : requestedBy;
        reason ??= string.Empty;
        var (session, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        if (snapshot is null)
        {
            return (null, false, NotBootstrapped());
        }

        // Idempotency before planning: a resubmit is answered even when the cluster has moved on
        // (the range split, the store drained) and a fresh plan would be refused.
        if (snapshot.Operations.TryGetValue(id!, out var existing))
        {
            var header = existing.Header;
            return Equals(header.Spec, spec) && header.RequestedBy == who && header.Reason == reason
                ? (existing.ToRecord(), false, null)
                : (existing.ToRecord(), false, Error(PlacementErrorCode.PlacementErrorConflict,
                    $"operation id {id} is taken by another operation ({header.Spec?.Kind}, requested by {header.RequestedBy}, {OperationRules.Describe(existing)}): " +
                    "choose a new id, or resubmit with exactly the same spec, requested_by and reason"));
        }

        long now = NowMs;
        var outcome = Planner.Plan(spec, ClusterViews.Build(snapshot, session, now), reason);
        if (outcome.Refusal is { } refusal)
        {
            return (null, false, Refused(refusal));
        }

        var record = new OperationRecord
        {
            Id = id,
            Spec = spec.Clone(),
            Plan = outcome.Plan,
            State = OperationState.Pending,
            RequestedBy = who,
            Reason = reason,
            Progress = new OperationProgress(),
        };
        var result = await Group.ProposeAsync(new PlacementCommand { SubmitOperation = new SubmitOperationCommand { Operation = record, AtMs = now } }, ct).ConfigureAwait(false);
        if (result.Code != PlacementErrorCode.PlacementErrorNone)
        {
            return (result.Operation, false, Error(result.Code, result.Message));
        }

        // A drain's store went DRAINING in the same apply as the submit (OperationRules.Submit).
        bool created = result.Changed;
        OperationsChanged?.Invoke();
        return (Group.State.Snapshot.Operations.TryGetValue(id!, out var stored) ? stored.ToRecord() : result.Operation, created, null);
    }

    public async Task<(OperationRecord? Operation, PlacementError? Error)> GetAsync(string? id, CancellationToken ct)
    {
        var (_, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        if (snapshot is null)
        {
            return (null, NotBootstrapped());
        }

        return snapshot.Operations.TryGetValue(id ?? string.Empty, out var entry) ? (entry.ToRecord(), null) : (null, UnknownOperation(id));
    }

    /// <summary>Newest first (by created_ms, then id), filtered by state and creation time.</summary>
    public async Task<(List<OperationRecord> Operations, PlacementError? Error)> ListAsync(IReadOnlyCollection<OperationState> states, uint limit, long sinceMs, CancellationToken ct)
    {
        if (limit > 1000)
        {
            return ([], Invalid($"limit {limit} is too large: ask for at most 1000 (0 means 100)"));
        }

        var (_, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        if (snapshot is null)
        {
            return ([], NotBootstrapped());
        }

        int max = limit == 0 ? 100 : (int)limit;
        var list = snapshot.Operations.Values
            .Where(e => (states.Count == 0 || states.Contains(e.State)) && e.Header.CreatedMs >= sinceMs)
            .OrderByDescending(e => e.Header.CreatedMs).ThenByDescending(e => e.Id, StringComparer.Ordinal)
            .Take(max)
            .Select(e => e.ToRecord())
            .ToList();
        return (list, null);
    }

    /// <summary>
    /// The record now, then every change (by revision) until it finishes. Throws
    /// <see cref="PlacementNotLeaderException"/> when this node stops leading (the stream ends; watch again).
    /// </summary>
    public async IAsyncEnumerable<OperationRecord> WatchAsync(string id, [EnumeratorCancellation] CancellationToken ct)
    {
        var (session, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        ulong revision = 0;
        while (true)
        {
            var changed = Group.State.NextChange();
            snapshot = Group.State.Snapshot;
            if (!snapshot.Operations.TryGetValue(id, out var entry))
            {
                yield break;
            }

            if (entry.Header.Revision != revision)
            {
                revision = entry.Header.Revision;
                yield return entry.ToRecord();
            }

            if (entry.IsFinal)
            {
                yield break;
            }

            // Leadership is re-checked at least every second, even when nothing changes.
            await Task.WhenAny(changed, Task.Delay(TimeSpan.FromSeconds(1), _leadership.Time, ct)).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            if (Group.LeaderTerm != session.Term)
            {
                throw new PlacementNotLeaderException(Group.LeaderId);
            }
        }
    }

    /// <summary>Whether the operation exists (the watch answers NOT_FOUND before streaming).</summary>
    public async Task<PlacementError?> CheckExistsAsync(string? id, CancellationToken ct)
    {
        var (_, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        return snapshot is null ? NotBootstrapped() : snapshot.Operations.ContainsKey(id ?? string.Empty) ? null : UnknownOperation(id);
    }

    public async Task<(OperationRecord? Operation, PlacementError? Error)> CancelAsync(string? id, string? who, string? reason, CancellationToken ct)
    {
        var (_, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        if (snapshot is null)
        {
            return (null, NotBootstrapped());
        }

        if (!snapshot.Operations.ContainsKey(id ?? string.Empty))
        {
            return (null, UnknownOperation(id));
        }

        var result = await Group.ProposeAsync(new PlacementCommand
        {
            CancelOperation = new CancelOperationCommand { Id = id, Who = Caller(who), Reason = reason ?? string.Empty, AtMs = NowMs },
        }, ct).ConfigureAwait(false);
        if (result.Code != PlacementErrorCode.PlacementErrorNone)
        {
            return (result.Operation, Error(result.Code, result.Message));
        }

        // A cancelled drain's store went ACTIVE in the same apply as the cancel (OperationRules.Cancel).
        OperationsChanged?.Invoke();
        return (Group.State.Snapshot.Operations.TryGetValue(id!, out var after) ? after.ToRecord() : result.Operation, null);
    }

    // ---- Stores ----

    /// <summary>Cancels the store's drain (refused once its last replica left) and makes it ACTIVE again.</summary>
    public async Task<(StoreStatus? Store, PlacementError? Error)> UndrainAsync(ulong storeId, string? who, string? reason, CancellationToken ct)
    {
        var (session, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        if (snapshot is null)
        {
            return (null, NotBootstrapped());
        }

        if (CheckStore(snapshot, storeId) is { } unknown)
        {
            return (null, unknown);
        }

        if (snapshot.StoreAdminState(storeId) != StoreAdminState.Draining)
        {
            return (null, Error(PlacementErrorCode.PlacementErrorFailedPrecondition,
                $"store {storeId} is {snapshot.StoreAdminState(storeId)}, not DRAINING: only a draining store can be undrained" +
                (snapshot.StoreAdminState(storeId) == StoreAdminState.Drained ? " (it is empty now: remove it, or restart the node on an empty data directory as a new store)" : string.Empty)));
        }

        // Cancel first: it is refused once the last replica left, and then the store stays DRAINING.
        foreach (var drain in snapshot.ActiveOperations.Values.Where(e => e.Header.Spec.Kind == OperationKind.DrainStore && e.Header.Spec.StoreId == storeId))
        {
            var cancelled = await Group.ProposeAsync(new PlacementCommand
            {
                CancelOperation = new CancelOperationCommand { Id = drain.Id, Who = Caller(who), Reason = reason ?? "undrain", AtMs = NowMs },
            }, ct).ConfigureAwait(false);
            if (cancelled.Code != PlacementErrorCode.PlacementErrorNone)
            {
                return (null, Error(cancelled.Code, cancelled.Message));
            }
        }

        // A cancelled drain made the store ACTIVE in its own apply; only a DRAINING store without a
        // drain (set directly, or a drain that failed) still needs this command. Not proposing a
        // no-op keeps the window in which a lost leadership fails a call that already took effect small.
        var result = Group.State.Snapshot.StoreAdminState(storeId) != StoreAdminState.Draining
            ? PlacementApplyResult.Applied($"store {storeId} is ACTIVE", [])
            : await Group.ProposeAsync(new PlacementCommand
            {
                SetStoreAdminState = new SetStoreAdminStateCommand { StoreId = storeId, State = StoreAdminState.Active, Who = Caller(who), Reason = reason ?? string.Empty, AtMs = NowMs },
            }, ct).ConfigureAwait(false);
        OperationsChanged?.Invoke();
        return result.Code == PlacementErrorCode.PlacementErrorNone ? (Status(Group.State.Snapshot, session, storeId, NowMs), null) : (null, Error(result.Code, result.Message));
    }

    /// <summary>DRAINED -> REMOVED (final).</summary>
    public Task<(StoreStatus? Store, PlacementError? Error)> RemoveStoreAsync(ulong storeId, string? who, string? reason, CancellationToken ct) =>
        StoreCommandAsync(storeId, new PlacementCommand
        {
            SetStoreAdminState = new SetStoreAdminStateCommand { StoreId = storeId, State = StoreAdminState.Removed, Who = Caller(who), Reason = reason ?? string.Empty, AtMs = NowMs },
        }, ct);

    /// <summary>A maintenance window of <paramref name="durationMs"/> from now (0 ends it).</summary>
    public Task<(StoreStatus? Store, PlacementError? Error)> SetMaintenanceAsync(ulong storeId, long durationMs, string? who, string? reason, CancellationToken ct)
    {
        if (durationMs < 0 || durationMs > OperationRules.MaxMaintenanceMs)
        {
            return Task.FromResult<(StoreStatus?, PlacementError?)>((null,
                Invalid($"duration_ms {durationMs} is out of range: give 1 ms to 7 days (or 0 to end the window now)")));
        }

        long now = NowMs;
        return StoreCommandAsync(storeId, new PlacementCommand
        {
            SetStoreMaintenance = new SetStoreMaintenanceCommand { StoreId = storeId, UntilMs = durationMs == 0 ? 0 : now + durationMs, Who = Caller(who), Reason = reason ?? string.Empty, AtMs = now },
        }, ct);
    }

    public async Task<(List<StoreStatus> Stores, PlacementError? Error)> ListStoreStatusAsync(CancellationToken ct)
    {
        var (session, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        if (snapshot is null)
        {
            return ([], NotBootstrapped());
        }

        long now = NowMs;
        return (snapshot.Stores.Keys.Select(id => Status(snapshot, session, id, now)).ToList(), null);
    }

    // ---- Scheduler, audit, settings ----

    public async Task<(GetSchedulerStatusResponse? Status, PlacementError? Error)> SchedulerStatusAsync(CancellationToken ct)
    {
        var (_, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        if (snapshot is null)
        {
            return (null, NotBootstrapped());
        }

        var settings = snapshot.Ops.Settings;
        var response = new GetSchedulerStatusResponse
        {
            Paused = snapshot.SchedulerPaused,
            PausedBy = settings is { SchedulerPaused: true } ? settings.UpdatedBy : string.Empty,
            PausedReason = settings is { SchedulerPaused: true } ? settings.Reason : string.Empty,
            StoreDownReplaceAfterMs = _scheduler.StoreDownReplaceAfterMs,
            ReplicationFactor = snapshot.ReplicationFactor,
            LastPassMs = _scheduler.LastPassMs,
        };
        response.RunningOperationIds.AddRange(snapshot.ActiveOperations.Values.Where(e => e.Header.RequestedBy == SchedulerRules.RequestedBy).Select(e => e.Id));
        response.Recent.AddRange(_scheduler.Recent());
        return (response, null);
    }

    public async Task<PlacementError?> SetSchedulerPausedAsync(bool paused, string? who, string? reason, CancellationToken ct)
    {
        var (_, error) = await SettingsCommandAsync(new SetClusterSettingsCommand { SchedulerPaused = paused, Who = Caller(who), Reason = reason ?? string.Empty, AtMs = NowMs }, ct).ConfigureAwait(false);
        return error;
    }

    public async Task<(List<AuditEntry> Entries, PlacementError? Error)> ListAuditAsync(long sinceMs, uint limit, string? operationId, CancellationToken ct)
    {
        if (limit > 10_000)
        {
            return ([], Invalid($"limit {limit} is too large: ask for at most 10000 (0 means 200)"));
        }

        var (_, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        if (snapshot is null)
        {
            return ([], NotBootstrapped());
        }

        int max = limit == 0 ? 200 : (int)limit;
        var entries = string.IsNullOrEmpty(operationId)
            ? snapshot.AuditSince(sinceMs, max)
            : snapshot.AuditLog.Where(e => e.AtMs >= sinceMs && e.OperationId == operationId).Take(max).ToList();
        return (entries, null);
    }

    public async Task<(ClusterSettings? Settings, PlacementError? Error)> GetSettingsAsync(CancellationToken ct)
    {
        var (_, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        return snapshot is null ? (null, NotBootstrapped()) : (Settings(snapshot), null);
    }

    public Task<(ClusterSettings? Settings, PlacementError? Error)> UpdateSettingsAsync(uint? replicationFactor, string? who, string? reason, CancellationToken ct)
    {
        var command = new SetClusterSettingsCommand { Who = Caller(who), Reason = reason ?? string.Empty, AtMs = NowMs };
        if (replicationFactor is { } rf)
        {
            command.ReplicationFactor = rf;
        }

        return SettingsCommandAsync(command, ct);
    }

    // ---- Plumbing ----

    /// <summary>The session and the applied state after a read barrier; the snapshot is null before bootstrap.</summary>
    private async Task<(LeaderSession Session, PlacementSnapshot? Snapshot)> ReadAsync(CancellationToken ct)
    {
        var session = _leadership.Current() ?? throw new PlacementNotLeaderException(Group.LeaderId);
        await Group.ReadBarrierAsync(ct).ConfigureAwait(false);
        var snapshot = Group.State.Snapshot;
        return (session, snapshot.IsBootstrapped ? snapshot : null);
    }

    private async Task<(StoreStatus? Store, PlacementError? Error)> StoreCommandAsync(ulong storeId, PlacementCommand command, CancellationToken ct)
    {
        var (session, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        if (snapshot is null)
        {
            return (null, NotBootstrapped());
        }

        if (CheckStore(snapshot, storeId) is { } unknown)
        {
            return (null, unknown);
        }

        var result = await Group.ProposeAsync(command, ct).ConfigureAwait(false);
        return result.Code == PlacementErrorCode.PlacementErrorNone ? (Status(Group.State.Snapshot, session, storeId, NowMs), null) : (null, Error(result.Code, result.Message));
    }

    private async Task<(ClusterSettings? Settings, PlacementError? Error)> SettingsCommandAsync(SetClusterSettingsCommand command, CancellationToken ct)
    {
        var (_, snapshot) = await ReadAsync(ct).ConfigureAwait(false);
        if (snapshot is null)
        {
            return (null, NotBootstrapped());
        }

        var result = await Group.ProposeAsync(new PlacementCommand { SetClusterSettings = command }, ct).ConfigureAwait(false);
        return result.Code == PlacementErrorCode.PlacementErrorNone ? (Settings(Group.State.Snapshot), null) : (null, Error(result.Code, result.Message));
    }

    private static ClusterSettings Settings(PlacementSnapshot snapshot) => new()
    {
        ReplicationFactor = snapshot.ReplicationFactor,
        SchedulerPaused = snapshot.SchedulerPaused,
        UpdatedBy = snapshot.Ops.Settings?.UpdatedBy ?? string.Empty,
        Reason = snapshot.Ops.Settings?.Reason ?? string.Empty,
        UpdatedMs = snapshot.Ops.Settings?.UpdatedMs ?? 0,
    };

    /// <summary>A store's status as the leader sees it at <paramref name="nowMs"/>.</summary>
    internal static StoreStatus Status(PlacementSnapshot snapshot, LeaderSession session, ulong storeId, long nowMs)
    {
        var liveness = session.Liveness.Get(storeId, nowMs);
        snapshot.Ops.StoreAdmin.TryGetValue(storeId, out var admin);
        bool up = liveness.State == StoreState.Up;
        return new StoreStatus
        {
            Store = snapshot.Stores.TryGetValue(storeId, out var d) ? d.Clone() : new StoreDescriptor { StoreId = storeId },
            AdminState = snapshot.StoreAdminState(storeId),
            Liveness = up ? StoreLivenessState.StoreLivenessUp : StoreLivenessState.StoreLivenessDown,
            LastHeartbeatMs = liveness.LastHeartbeatMs,
            DownSinceMs = up ? 0 : liveness.LastHeartbeatMs != 0 ? liveness.LastHeartbeatMs : session.Liveness.TakeoverMs,
            MaintenanceUntilMs = snapshot.InMaintenance(storeId, nowMs) ? admin!.MaintenanceUntilMs : 0,
            Stats = liveness.Stats?.Clone(),
            UpdatedBy = admin?.UpdatedBy ?? string.Empty,
            Reason = admin?.Reason ?? string.Empty,
            UpdatedMs = admin?.UpdatedMs ?? 0,
            DrainOperationId = snapshot.ActiveOperations.Values
                .FirstOrDefault(e => e.Header.Spec.Kind == OperationKind.DrainStore && e.Header.Spec.StoreId == storeId)?.Id ?? string.Empty,
        };
    }

    private static PlacementError? CheckStore(PlacementSnapshot snapshot, ulong storeId) =>
        storeId == 0 ? Invalid("store_id is 0: name the store (`kvctl store list` shows the ids)")
        : !snapshot.Stores.ContainsKey(storeId) ? Error(PlacementErrorCode.PlacementErrorNotFound, $"store {storeId} is not registered: list stores (`kvctl store list`) and use a current id")
        : null;

    private PlacementError? CheckKeyLength(OperationSpec spec) =>
        spec.SplitKey.Length > _maxKeyBytes
            ? Invalid($"the split key is {spec.SplitKey.Length} bytes; keys are at most {_maxKeyBytes} bytes (max-key-bytes): pick a shorter key inside the range")
            : null;

    private static string Caller(string? who) => string.IsNullOrWhiteSpace(who) ? UnknownCaller : who;

    /// <summary>The wire code of a planner refusal (each maps to one kvctl exit code).</summary>
    internal static PlacementError Refused(PlanRefusal refusal) => Error(refusal.Code switch
    {
        RefusalCode.InvalidArgument or RefusalCode.ForceWithoutReason => PlacementErrorCode.PlacementErrorInvalidArgument,
        RefusalCode.NotFound => PlacementErrorCode.PlacementErrorNotFound,
        _ => PlacementErrorCode.PlacementErrorFailedPrecondition,
    }, refusal.Message);

    private static PlacementError UnknownOperation(string? id) =>
        Error(PlacementErrorCode.PlacementErrorNotFound, $"operation {id} does not exist: list operations (`kvctl operation list`) for the id");

    private static PlacementError NotBootstrapped() => Error(PlacementErrorCode.PlacementErrorNotBootstrapped,
        "the cluster has not been bootstrapped yet: run `kvctl cluster bootstrap` (or `kvctl local up`)");

    private static PlacementError Invalid(string message) => Error(PlacementErrorCode.PlacementErrorInvalidArgument, message);

    private static PlacementError Error(PlacementErrorCode code, string message) => new() { Code = code, Message = message };
}
