using System.Text.Json.Serialization;
using Kv.Proto.V1;

namespace Kv.Client.Views;

/// <summary>Something the scheduler did or noted, and the operation it submitted (null when it only noted).</summary>
public sealed record SchedulerEventView(DateTimeOffset? At, OperationId? OperationId, string Reason)
{
    public static SchedulerEventView From(SchedulerEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new SchedulerEventView(ViewTime.FromUnixMs(e.AtMs), e.OperationId.Length == 0 ? null : Client.OperationId.Unchecked(e.OperationId), e.Reason);
    }
}

/// <summary>The placement leader's scheduler: paused or not (by whom, why), its running operations, recent events and the settings it keeps.</summary>
public sealed record SchedulerStatusView(
    bool Paused, string? PausedBy, string? PausedReason, IReadOnlyList<OperationId> RunningOperationIds, IReadOnlyList<SchedulerEventView> Recent,
    TimeSpan StoreDownReplaceAfter, uint ReplicationFactor, DateTimeOffset? LastPass) : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;

    [JsonPropertyOrder(-1)]
    public string Kind => "SchedulerStatus";

    public static SchedulerStatusView From(GetSchedulerStatusResponse status)
    {
        ArgumentNullException.ThrowIfNull(status);
        return new SchedulerStatusView(
            status.Paused, ViewTime.NonEmpty(status.PausedBy), ViewTime.NonEmpty(status.PausedReason),
            [.. status.RunningOperationIds.Select(OperationId.Unchecked)], [.. status.Recent.Select(SchedulerEventView.From)],
            TimeSpan.FromMilliseconds(status.StoreDownReplaceAfterMs), status.ReplicationFactor, ViewTime.FromUnixMs(status.LastPassMs));
    }
}
