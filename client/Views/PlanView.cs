using System.Text.Json.Serialization;
using Kv.Proto.V1;

namespace Kv.Client.Views;

/// <summary>
/// One step of a plan. Epoch is what the plan saw (a range at another epoch refuses the step and
/// the plan is recomputed); EpochAfter is the epoch once the step is done. Store fields are null
/// when the step's kind does not use them.
/// </summary>
public sealed record PlanStepView(
    uint Index, StepKindView Kind, RangeId? RangeId, EpochView? Epoch, StoreId? StoreId, StoreId? FromStoreId, StoreId? ToStoreId,
    string? SplitKey, ulong Bytes, string Description, StepStateView State, EpochView? EpochAfter, string? Error,
    DateTimeOffset? Started, DateTimeOffset? Finished, uint Attempts)
{
    public static PlanStepView From(PlanStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        return new PlanStepView(
            step.Index, ViewEnums.From(step.Kind), ViewTime.Range(step.RangeId), EpochView.From(step.Epoch),
            ViewTime.Store(step.StoreId), ViewTime.Store(step.FromStoreId), ViewTime.Store(step.ToStoreId),
            step.SplitKey.IsEmpty ? null : KeyFormat.Printable(step.SplitKey.Span), step.Bytes, step.Description,
            ViewEnums.From(step.State), EpochView.From(step.EpochAfter), ViewTime.NonEmpty(step.Error),
            ViewTime.FromUnixMs(step.StartedMs), ViewTime.FromUnixMs(step.FinishedMs), step.Attempts);
    }
}

/// <summary>"If one more store fails during this step, range R keeps Before/During/After more failures."</summary>
public sealed record PreflightRiskView(RangeId RangeId, uint Step, int ToleranceBefore, int ToleranceDuring, int ToleranceAfter, string Reason)
{
    public static PreflightRiskView From(PreflightRisk risk)
    {
        ArgumentNullException.ThrowIfNull(risk);
        return new PreflightRiskView(new RangeId(risk.RangeId), risk.Step, risk.ToleranceBefore, risk.ToleranceDuring, risk.ToleranceAfter, risk.Reason);
    }
}

/// <summary>The answer to "if one more store fails during this, which ranges lose quorum?": Safe when none.</summary>
public sealed record PreflightView(bool Safe, IReadOnlyList<PreflightRiskView> Risks) : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;

    [JsonPropertyOrder(-1)]
    public string Kind => "Preflight";

    /// <summary>An absent preflight (nothing planned yet) is safe with no risks.</summary>
    public static PreflightView From(Preflight? preflight) =>
        preflight is null ? new PreflightView(true, []) : new PreflightView(preflight.Safe, [.. preflight.Risks.Select(PreflightRiskView.From)]);
}

/// <summary>What an operation will do (or, in a record, is doing): its steps, the preflight, and notes for people.</summary>
public sealed record PlanView(IReadOnlyList<PlanStepView> Steps, PreflightView Preflight, IReadOnlyList<string> Notes) : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;

    [JsonPropertyOrder(-1)]
    public string Kind => "Plan";

    /// <summary>Total approximate bytes the steps touch (the dry run's "how much").</summary>
    [JsonIgnore]
    public ulong Bytes => Steps.Aggregate(0ul, (sum, s) => sum + s.Bytes);

    public static PlanView From(Plan? plan) =>
        plan is null
            ? new PlanView([], PreflightView.From(null), [])
            : new PlanView([.. plan.Steps.Select(PlanStepView.From)], PreflightView.From(plan.Preflight), [.. plan.Notes]);
}
