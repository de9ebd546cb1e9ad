using System.Text.Json.Serialization;
using Kv.Proto.V1;

namespace Kv.Client.Views;

/// <summary>What was asked: the kind and its target. Fields a kind does not use are null.</summary>
public sealed record OperationSpecView(
    OperationKindView Kind, RangeId? RangeId, string? SplitKey, StoreId? StoreId, StoreId? FromStoreId, StoreId? ToStoreId,
    EpochView? Epoch, bool Force)
{
    public static OperationSpecView From(OperationSpec? spec)
    {
        spec ??= new OperationSpec();
        return new OperationSpecView(
            ViewEnums.From(spec.Kind), ViewTime.Range(spec.RangeId), spec.SplitKey.IsEmpty ? null : KeyFormat.Printable(spec.SplitKey.Span),
            ViewTime.Store(spec.StoreId), ViewTime.Store(spec.FromStoreId), ViewTime.Store(spec.ToStoreId), EpochView.From(spec.Epoch), spec.Force);
    }
}

/// <summary>Ranges and bytes done and left; Eta from the rate so far (null when unknown).</summary>
public sealed record OperationProgressView(uint RangesDone, uint RangesLeft, ulong BytesDone, ulong BytesLeft, TimeSpan? Eta)
{
    public static OperationProgressView From(OperationProgress? progress) =>
        progress is null
            ? new OperationProgressView(0, 0, 0, 0, null)
            : new OperationProgressView(progress.RangesDone, progress.RangesLeft, progress.BytesDone, progress.BytesLeft,
                progress.EtaMs > 0 ? TimeSpan.FromMilliseconds(progress.EtaMs) : null);
}

/// <summary>A range the operation cannot progress on, why, and since when.</summary>
public sealed record StuckRangeView(RangeId RangeId, string Reason, DateTimeOffset? Since)
{
    public static StuckRangeView From(StuckRange stuck)
    {
        ArgumentNullException.ThrowIfNull(stuck);
        return new StuckRangeView(new RangeId(stuck.RangeId), stuck.Reason, ViewTime.FromUnixMs(stuck.SinceMs));
    }
}

/// <summary>
/// An operation record (shared/DESIGN.md section 8): what was asked, the plan, where it stands,
/// who asked and why, its times and progress, and the ranges it is stuck on. CurrentStep is
/// 0-based (kvctl prints "step CurrentStep+1 of StepCount"). Revision increases with every change.
/// </summary>
public sealed record OperationView(
    OperationId Id, OperationSpecView Spec, PlanView Plan, OperationStateView State, uint CurrentStep, int StepCount,
    string? Failure, string RequestedBy, string? Reason,
    DateTimeOffset? Created, DateTimeOffset? Started, DateTimeOffset? Updated, DateTimeOffset? Finished,
    OperationProgressView Progress, IReadOnlyList<StuckRangeView> Stuck, bool CancelRequested, string? CancelledBy,
    uint Replans, ulong Revision) : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;

    [JsonPropertyOrder(-1)]
    public string Kind => "Operation";

    /// <summary>True once nothing more will happen to it (Succeeded, Failed or Cancelled).</summary>
    [JsonIgnore]
    public bool IsFinished => State is OperationStateView.Succeeded or OperationStateView.Failed or OperationStateView.Cancelled;

    public static OperationView From(OperationRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);

        // A record placement wrote always has a valid id; one that does not parse (a newer server's
        // rule) is still shown rather than dropped.
        var id = OperationId.TryParse(record.Id, out var parsed, out _) ? parsed : OperationId.Unchecked(record.Id);
        var plan = PlanView.From(record.Plan);
        return new OperationView(
            id, OperationSpecView.From(record.Spec), plan, ViewEnums.From(record.State), record.CurrentStep, plan.Steps.Count,
            ViewTime.NonEmpty(record.Failure), string.IsNullOrEmpty(record.RequestedBy) ? "unknown" : record.RequestedBy, ViewTime.NonEmpty(record.Reason),
            ViewTime.FromUnixMs(record.CreatedMs), ViewTime.FromUnixMs(record.StartedMs), ViewTime.FromUnixMs(record.UpdatedMs), ViewTime.FromUnixMs(record.FinishedMs),
            OperationProgressView.From(record.Progress), [.. record.Stuck.Select(StuckRangeView.From)], record.CancelRequested,
            ViewTime.NonEmpty(record.CancelledBy), record.Replans, record.Revision);
    }
}
