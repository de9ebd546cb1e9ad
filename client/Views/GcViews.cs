using System.Text.Json.Serialization;
using Kv.Proto.V1;

namespace Kv.Client.Views;

/// <summary>
/// The GC safe point (versions not visible at it may be dropped; reads below it are refused), the
/// candidate a GC round would publish now, and the service safe points that can hold it back.
/// <see cref="SafePointTime"/> is the safe point's physical part as a wall time.
/// </summary>
public sealed record GcStatusView(
    Timestamp SafePoint,
    DateTimeOffset? SafePointTime,
    string? UpdatedBy,
    string? Reason,
    DateTimeOffset? Updated,
    Timestamp Now,
    Timestamp Candidate,
    DateTimeOffset? CandidateTime,
    TimeSpan LifeTime,
    DateTimeOffset? LastRound,
    DateTimeOffset? NextRound,
    IReadOnlyList<ServiceSafePointView> ServiceSafePoints) : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;

    [JsonPropertyOrder(-1)]
    public string Kind => "GcStatus";

    public static GcStatusView From(GcStatus? status)
    {
        status ??= new GcStatus();
        return new GcStatusView(
            new Timestamp(status.SafePoint), WallTime(status.SafePoint), ViewTime.NonEmpty(status.UpdatedBy), ViewTime.NonEmpty(status.Reason),
            ViewTime.FromUnixMs(status.UpdatedMs), new Timestamp(status.NowTs), new Timestamp(status.Candidate), WallTime(status.Candidate),
            TimeSpan.FromMilliseconds(status.LifeTimeMs), ViewTime.FromUnixMs(status.LastRoundMs), ViewTime.FromUnixMs(status.NextRoundMs),
            [.. status.ServiceSafePoints.Select(ServiceSafePointView.From)]);
    }

    /// <summary>A TSO timestamp's physical part as a UTC time; null for 0 (none).</summary>
    internal static DateTimeOffset? WallTime(ulong ts) => ts == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(new Timestamp(ts).PhysicalMs);
}

/// <summary>A service safe point: while live (until <see cref="Expires"/>), GC keeps every version visible at <see cref="Ts"/>.</summary>
public sealed record ServiceSafePointView(
    string Name, string Owner, Timestamp Ts, DateTimeOffset? TsTime, TimeSpan Ttl, DateTimeOffset? Created, DateTimeOffset? LastRenewal, DateTimeOffset? Expires, bool Live) : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;

    [JsonPropertyOrder(-1)]
    public string Kind => "ServiceSafePoint";

    public static ServiceSafePointView From(ServiceSafePoint? s)
    {
        s ??= new ServiceSafePoint();
        return new ServiceSafePointView(s.Name, s.Owner, new Timestamp(s.Ts), GcStatusView.WallTime(s.Ts), TimeSpan.FromMilliseconds(s.TtlMs),
            ViewTime.FromUnixMs(s.CreatedMs), ViewTime.FromUnixMs(s.LastRenewalMs), ViewTime.FromUnixMs(s.ExpiresMs), s.Live);
    }
}

/// <summary>What bounds the GC candidate (kvctl gc why).</summary>
public enum GcHolderKindView
{
    Unknown,

    /// <summary>Now minus the GC life time.</summary>
    LifeTime,

    ServiceSafePoint,

    /// <summary>The oldest unresolved lock.</summary>
    Lock,
}

/// <summary>One thing holding the safe point back: the candidate is at most <see cref="Ts"/>, which lies <see cref="Age"/> behind now.</summary>
public sealed record GcHolderView(GcHolderKindView Kind, Timestamp Ts, DateTimeOffset? TsTime, TimeSpan Age, string Description, ServiceSafePointView? ServiceSafePoint, string? LockPrimary);

/// <summary>The safe point, the candidate, and what holds the candidate back, lowest bound first.</summary>
public sealed record GcExplanationView(Timestamp SafePoint, Timestamp Candidate, Timestamp Now, IReadOnlyList<GcHolderView> Holders) : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;

    [JsonPropertyOrder(-1)]
    public string Kind => "GcExplanation";

    public static GcExplanationView From(ExplainGcSafePointResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return new GcExplanationView(new Timestamp(response.SafePoint), new Timestamp(response.Candidate), new Timestamp(response.NowTs),
            [.. response.Holders.Select(h => new GcHolderView(
                h.Kind switch
                {
                    GcHolderKind.LifeTime => GcHolderKindView.LifeTime,
                    GcHolderKind.ServiceSafePoint => GcHolderKindView.ServiceSafePoint,
                    GcHolderKind.Lock => GcHolderKindView.Lock,
                    _ => GcHolderKindView.Unknown,
                },
                new Timestamp(h.Ts), GcStatusView.WallTime(h.Ts), TimeSpan.FromMilliseconds(h.AgeMs), h.Description,
                h.ServiceSafePoint is null ? null : ServiceSafePointView.From(h.ServiceSafePoint),
                h.LockPrimary.IsEmpty ? null : KeyFormat.Printable(h.LockPrimary.Span)))]);
    }
}
