using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations.Planning;

/// <summary>Why a plan was refused; each maps to one kvctl exit code (STYLE.md).</summary>
internal enum RefusalCode
{
    /// <summary>The spec is malformed or asks for something that makes no sense (exit 2).</summary>
    InvalidArgument,

    /// <summary>An unknown store or range (exit 4).</summary>
    NotFound,

    /// <summary>The epoch fence does not match the range's current epoch (exit 6: re-read and retry).</summary>
    EpochChanged,

    /// <summary>The named target breaks an eligibility rule (down, draining, in maintenance, failure domain) (exit 1).</summary>
    NotEligible,

    /// <summary>No store could ever take the replicas: too few stores, or labels that leave too few failure domains (exit 1).</summary>
    PlacementImpossible,

    /// <summary>The preflight found a step that would leave a range unable to survive one more failure (exit 3).</summary>
    Unsafe,

    /// <summary>--force without --reason (exit 2).</summary>
    ForceWithoutReason,
}

/// <summary>A refusal: what was wrong and what to do. A refusal changes nothing.</summary>
internal sealed record PlanRefusal(RefusalCode Code, string Message);

/// <summary>
/// The planner's answer. Exactly one of: a plan (possibly with no steps and a note saying why),
/// or a refusal. An <see cref="RefusalCode.Unsafe"/> refusal still carries the plan, so a dry run
/// can show what would have been done and which ranges were at risk.
/// </summary>
/// <param name="Plan">The plan (steps Pending, preflight filled); also set for an Unsafe refusal.</param>
/// <param name="Refusal">Why nothing may be done; null when the plan may be submitted.</param>
/// <param name="Stuck">Ranges the plan could not cover and why (since_ms is left 0: the caller stamps it).</param>
internal sealed record PlanOutcome(Plan? Plan, PlanRefusal? Refusal, IReadOnlyList<StuckRange> Stuck)
{
    public bool IsRefused => Refusal is not null;

    public static PlanOutcome Refused(RefusalCode code, string message) => new(null, new PlanRefusal(code, message), []);
}
