using Google.Protobuf;
using Kv.Client;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Gc;

/// <summary>The node's GC settings (kv-node config).</summary>
/// <param name="LifeTime">How long replaced versions are kept: the candidate is now minus this.</param>
/// <param name="MaxServiceTtl">The longest TTL a service safe point may ask for (at most 30 days).</param>
internal sealed record GcOptions(TimeSpan LifeTime, TimeSpan MaxServiceTtl)
{
    public static GcOptions Default { get; } = new(GcCandidate.DefaultLifeTime, TimeSpan.FromDays(1));

    /// <summary>Null when valid; otherwise what is wrong.</summary>
    public string? Check() =>
        LifeTime < TimeSpan.Zero ? $"the GC life time {LifeTime} is negative"
        : MaxServiceTtl <= TimeSpan.Zero || MaxServiceTtl.TotalMilliseconds > GcRules.MaxServiceTtlMs ? $"the maximum service safe point TTL {MaxServiceTtl} is outside 1 ms..30 days"
        : null;
}

/// <summary>
/// What the Admin API's GC requests ask of the placement leader, one method per request: reads
/// after a read barrier, changes proposed through the placement group. Contract, as for
/// <c>OperationsFront</c>:
/// <list type="number">
/// <item>Every method throws <see cref="PlacementNotLeaderException"/> when this node does not lead placement.</item>
/// <item>A refusal is a <see cref="PlacementError"/> saying what was wrong and what to do; it changes
/// nothing (checks run before the proposal, and the apply checks again).</item>
/// <item>A result without error means the change is committed and applied.</item>
/// </list>
/// </summary>
internal sealed class GcFront
{
    private readonly PlacementLeadership _leadership;
    private readonly Func<CancellationToken, Task<(Timestamp Now, PlacementError? Error)>> _tsoNow;
    private readonly GcOptions _options;

    /// <summary>tsoNow gives the TSO's now: a fresh timestamp from this leader's TSO.</summary>
    public GcFront(PlacementLeadership leadership, Func<CancellationToken, Task<(Timestamp Now, PlacementError? Error)>> tsoNow, GcOptions options)
    {
        ArgumentNullException.ThrowIfNull(leadership);
        ArgumentNullException.ThrowIfNull(tsoNow);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Check() is { } bad)
        {
            throw new ArgumentException(bad, nameof(options));
        }

        _leadership = leadership;
        _tsoNow = tsoNow;
        _options = options;
    }

    private IPlacementGroup Group => _leadership.Group;

    private long NowMs => _leadership.Time.GetUtcNow().ToUnixTimeMilliseconds();

    public async Task<(GcStatus? Status, PlacementError? Error)> StatusAsync(CancellationToken ct)
    {
        var (snapshot, now, error) = await ReadAsync(ct).ConfigureAwait(false);
        return error is not null ? (null, error) : (Status(snapshot!.Gc, now, NowMs, _options), null);
    }

    public async Task<(GcStatus? Status, PlacementError? Error)> SetSafePointAsync(ulong safePoint, string? who, string? reason, CancellationToken ct)
    {
        if (safePoint == 0)
        {
            return (null, Invalid("the safe point is 0: give a timestamp (kvctl gc status shows the current safe point and now)"));
        }

        var (_, now, error) = await ReadAsync(ct).ConfigureAwait(false);
        if (error is not null)
        {
            return (null, error);
        }

        var result = await Group.ProposeAsync(new PlacementCommand
        {
            SetGcSafePoint = new SetGcSafePointCommand { SafePoint = safePoint, NowTs = now.Value, Who = Caller(who), Reason = reason ?? string.Empty, AtMs = NowMs },
        }, ct).ConfigureAwait(false);
        return result.Code == PlacementErrorCode.PlacementErrorNone
            ? (Status(Group.State.Snapshot.Gc, now, NowMs, _options), null)
            : (null, Error(result.Code, result.Message));
    }

    public async Task<(ServiceSafePoint? Service, PlacementError? Error)> SetServiceAsync(string? name, ulong ts, long ttlMs, string? who, CancellationToken ct)
    {
        if (GcRules.CheckName(name) is { } badName)
        {
            return (null, Invalid(badName));
        }

        long maxMs = (long)_options.MaxServiceTtl.TotalMilliseconds;
        if (ttlMs <= 0 || ttlMs > maxMs)
        {
            return (null, Invalid($"service safe point '{name}': TTL {ttlMs} ms is outside 1 ms..{maxMs} ms (this cluster's gc-max-service-ttl): " +
                "give a TTL the service renews within, and renew it while the service runs"));
        }

        var (_, _, error) = await ReadAsync(ct).ConfigureAwait(false);
        if (error is not null)
        {
            return (null, error);
        }

        long at = NowMs;
        var result = await Group.ProposeAsync(new PlacementCommand
        {
            SetServiceSafePoint = new SetServiceSafePointCommand { Name = name, Ts = ts, TtlMs = ttlMs, Who = Caller(who), AtMs = at },
        }, ct).ConfigureAwait(false);
        return result.Code == PlacementErrorCode.PlacementErrorNone && Group.State.Snapshot.Gc.Services.TryGetValue(name!, out var record)
            ? (View(record, at), null)
            : (null, Error(result.Code, result.Message));
    }

    public async Task<PlacementError?> RemoveServiceAsync(string? name, string? who, bool force, string? reason, CancellationToken ct)
    {
        if (GcRules.CheckName(name) is { } badName)
        {
            return Invalid(badName);
        }

        var (_, _, error) = await ReadAsync(ct).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }

        var result = await Group.ProposeAsync(new PlacementCommand
        {
            RemoveServiceSafePoint = new RemoveServiceSafePointCommand { Name = name, Who = Caller(who), Force = force, Reason = reason ?? string.Empty, AtMs = NowMs },
        }, ct).ConfigureAwait(false);
        return result.Code == PlacementErrorCode.PlacementErrorNone ? null : Error(result.Code, result.Message);
    }

    public async Task<(ExplainGcSafePointResponse? Explanation, PlacementError? Error)> ExplainAsync(CancellationToken ct)
    {
        var (snapshot, now, error) = await ReadAsync(ct).ConfigureAwait(false);
        return error is not null ? (null, error) : (Explain(snapshot!.Gc, now, NowMs, _options, oldestLock: null), null);
    }

    // ---- Views (pure) ----

    /// <summary>The status a leader reports at TSO now <paramref name="now"/> and clock <paramref name="nowMs"/>.</summary>
    internal static GcStatus Status(GcState gc, Timestamp now, long nowMs, GcOptions options)
    {
        var candidate = GcCandidate.Compute(gc, now, nowMs, options.LifeTime);
        var status = new GcStatus
        {
            SafePoint = gc.SafePoint.Value,
            UpdatedBy = gc.SafePointRecord?.UpdatedBy ?? string.Empty,
            Reason = gc.SafePointRecord?.Reason ?? string.Empty,
            UpdatedMs = gc.SafePointRecord?.UpdatedMs ?? 0,
            NowTs = now.Value,
            Candidate = candidate.Candidate.Value,
            LifeTimeMs = (long)options.LifeTime.TotalMilliseconds,
        };
        foreach (var service in gc.Services.Values)
        {
            status.ServiceSafePoints.Add(View(service, nowMs));
        }

        return status;
    }

    /// <summary>What holds the safe point back, lowest first, with each holder's age behind now.</summary>
    internal static ExplainGcSafePointResponse Explain(GcState gc, Timestamp now, long nowMs, GcOptions options, OldestLock? oldestLock)
    {
        var candidate = GcCandidate.Compute(gc, now, nowMs, options.LifeTime, oldestLock);
        var response = new ExplainGcSafePointResponse { SafePoint = gc.SafePoint.Value, Candidate = candidate.Candidate.Value, NowTs = now.Value };
        foreach (var holder in candidate.Holders)
        {
            response.Holders.Add(new GcHolder
            {
                Kind = holder.Kind switch
                {
                    GcBoundKind.LifeTime => GcHolderKind.LifeTime,
                    GcBoundKind.ServiceSafePoint => GcHolderKind.ServiceSafePoint,
                    _ => GcHolderKind.Lock,
                },
                Ts = holder.Ts.Value,
                Description = holder.Description,
                ServiceSafePoint = holder.Service is { } s ? View(s, nowMs) : null,
                LockPrimary = holder.LockPrimary is { } p ? ByteString.CopyFrom(p) : ByteString.Empty,
                AgeMs = Math.Max(0, now.PhysicalMs - holder.Ts.PhysicalMs),
            });
        }

        return response;
    }

    internal static ServiceSafePoint View(ServiceSafePointRecord record, long nowMs) => new()
    {
        Name = record.Name,
        Owner = record.Owner,
        Ts = record.Ts,
        TtlMs = record.TtlMs,
        CreatedMs = record.CreatedMs,
        LastRenewalMs = record.LastRenewalMs,
        ExpiresMs = GcState.ExpiresMs(record),
        Live = GcState.IsLive(record, nowMs),
    };

    // ---- Plumbing ----

    /// <summary>The applied state after a read barrier and the TSO's now; an error before bootstrap or when the TSO does not answer.</summary>
    private async Task<(PlacementSnapshot? Snapshot, Timestamp Now, PlacementError? Error)> ReadAsync(CancellationToken ct)
    {
        _ = _leadership.Current() ?? throw new PlacementNotLeaderException(Group.LeaderId);
        await Group.ReadBarrierAsync(ct).ConfigureAwait(false);
        var snapshot = Group.State.Snapshot;
        if (!snapshot.IsBootstrapped)
        {
            return (null, Timestamp.Zero, Error(PlacementErrorCode.PlacementErrorNotBootstrapped,
                "the cluster has not been bootstrapped yet: run `kvctl cluster bootstrap` (or `kvctl local up`)"));
        }

        var (now, error) = await _tsoNow(ct).ConfigureAwait(false);
        return error is not null ? (null, now, error) : (snapshot, now, null);
    }

    private static string Caller(string? who) => string.IsNullOrWhiteSpace(who) ? "unknown" : who;

    private static PlacementError Invalid(string message) => Error(PlacementErrorCode.PlacementErrorInvalidArgument, message);

    private static PlacementError Error(PlacementErrorCode code, string message) => new() { Code = code, Message = message };
}
