using Kv.Client;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations.Planning;

/// <summary>
/// The preflight: for each step of a plan, "if one more store fails during this step, which ranges
/// lose quorum?". Pure.
/// <para>
/// A range's failure tolerance is how many more store failures it survives: its voters on Up
/// stores minus its majority (voters / 2 + 1). A voter on a Down (or unknown) store already counts
/// as failed. Negative means the range has lost quorum already.
/// </para>
/// <list type="number">
/// <item>before: the tolerance of the configuration the step starts from (a learner catching up
/// does not vote, so the learner phase of an add or move is still "before");</item>
/// <item>during: the configuration while the change applies. A single add or remove switches
/// atomically, so "during" is the new configuration. A move is a joint configuration
/// C(old, new): a decision needs a majority of both, so its tolerance is the minimum of the two;</item>
/// <item>after: the new configuration.</item>
/// </list>
/// A step is safe when neither during nor after is below min(1, before): a step may never take a
/// range that survives a failure to one that does not, and may never make a range that already
/// survives none worse. Steps are simulated in order, so two steps on one range see each other.
/// Only steps not yet run (Pending) are checked; done and superseded steps are history.
/// </summary>
internal static class PreflightCheck
{
    /// <summary>Computes the preflight of <paramref name="plan"/> against <paramref name="view"/>.</summary>
    public static Preflight Compute(Plan plan, ClusterView view) => Compute(plan, view, ToleranceModel.Correct);

    /// <summary>As <see cref="Compute(Plan, ClusterView)"/> under <paramref name="model"/> (tests pass broken models as negative controls).</summary>
    internal static Preflight Compute(Plan plan, ClusterView view, ToleranceModel model)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(view);
        var result = new Preflight { Safe = true };
        // The voters each range has as the steps are simulated in order.
        var voters = new Dictionary<ulong, List<StoreId>>();
        foreach (var step in plan.Steps)
        {
            if (step.State is not (StepState.Pending or StepState.Unspecified))
            {
                continue;
            }

            if (!view.Ranges.TryGetValue(new RangeId(step.RangeId), out var range))
            {
                continue; // The planner only plans known ranges; a replan sees the new directory.
            }

            if (!voters.TryGetValue(step.RangeId, out var current))
            {
                current = [.. range.VoterStores];
                voters[step.RangeId] = current;
            }

            var (before, during, after, next, change) = Evaluate(step, current, range, view, model);
            voters[step.RangeId] = next;
            int threshold = Math.Min(1, before);
            bool unsafeStep = during < threshold || after < threshold;
            if (unsafeStep)
            {
                result.Safe = false;
            }

            if (unsafeStep || Math.Min(during, after) < 1)
            {
                result.Risks.Add(new PreflightRisk
                {
                    RangeId = step.RangeId,
                    Step = step.Index,
                    ToleranceBefore = before,
                    ToleranceDuring = during,
                    ToleranceAfter = after,
                    Reason = unsafeStep
                        ? $"{change} leaves range {step.RangeId} unable to survive one more store failure (tolerance {before} before, {during} during, {after} after): if one more store fails during this step, range {step.RangeId} loses quorum"
                        : $"range {step.RangeId} already survives no further store failure ({DownVoters(current, view)}); {change} does not make it worse",
                });
            }
        }

        return result;
    }

    /// <summary>The failure tolerance of a configuration: voters on Up stores minus the majority.</summary>
    public static int Tolerance(IReadOnlyCollection<StoreId> voters, ClusterView view) => Tolerance(voters, view, ToleranceModel.Correct);

    /// <summary>
    /// The refusal a submission meets: force without a reason is always refused; an unsafe plan is
    /// refused unless forced. Null when it may proceed.
    /// </summary>
    public static PlanRefusal? Admit(Preflight preflight, bool force, string? reason)
    {
        ArgumentNullException.ThrowIfNull(preflight);
        if (CheckForce(force, reason) is { } refusal)
        {
            return refusal;
        }

        if (preflight.Safe || force)
        {
            return null;
        }

        var lines = preflight.Risks.Where(r => r.ToleranceDuring < Math.Min(1, r.ToleranceBefore) || r.ToleranceAfter < Math.Min(1, r.ToleranceBefore))
            .Select(r => $"step {r.Step}: {r.Reason}");
        return new PlanRefusal(RefusalCode.Unsafe,
            "refused as unsafe: " + string.Join("; ", lines) + ". Add stores or replicas first, or override with --force --reason \"...\" (audited)");
    }

    /// <summary>A force needs a non-empty reason (it is audited); null when the pair is acceptable.</summary>
    public static PlanRefusal? CheckForce(bool force, string? reason) =>
        force && string.IsNullOrWhiteSpace(reason)
            ? new PlanRefusal(RefusalCode.ForceWithoutReason, "--force needs --reason: say why the safety check is overridden (it is written to the audit log)")
            : null;

    private static (int Before, int During, int After, List<StoreId> Next, string Change) Evaluate(
        PlanStep step, List<StoreId> current, RangeView range, ClusterView view, ToleranceModel model)
    {
        int before = Tolerance(current, view, model);
        var from = new StoreId(step.FromStoreId);
        var to = new StoreId(step.ToStoreId);
        var store = new StoreId(step.StoreId);
        switch (step.Kind)
        {
            case StepKind.MoveReplica when current.Contains(from):
            {
                var next = current.Where(s => s != from).Append(to).Distinct().ToList();
                int after = Tolerance(next, view, model);
                int during = model.JointNeedsBothMajorities ? Math.Min(before, after) : after;
                return (before, during, after, next, $"moving store {from}'s voter to store {to}");
            }

            case StepKind.AddReplica when !current.Contains(store):
            {
                var next = current.Append(store).ToList();
                int after = Tolerance(next, view, model);
                return (before, after, after, next, $"adding a voter on store {store}");
            }

            case StepKind.RemoveReplica when current.Contains(store):
            {
                var next = current.Where(s => s != store).ToList();
                int after = Tolerance(next, view, model);
                return (before, after, after, next, $"removing store {store}'s voter");
            }

            case StepKind.RemoveReplica:
                return (before, before, before, current, $"removing store {store}'s learner");
            default:
                // Splits and leader transfers keep the voters; a move of a non-voter is a learner swap.
                return (before, before, before, current, step.Kind == StepKind.Split ? "the split" : $"this {step.Kind} step");
        }
    }

    private static int Tolerance(IReadOnlyCollection<StoreId> voters, ClusterView view, ToleranceModel model)
    {
        if (voters.Count == 0)
        {
            return -1;
        }

        int up = voters.Count(v => !model.CountDownAsFailed || (view.Stores.TryGetValue(v, out var s) && s.IsUp));
        return up - (voters.Count / 2 + 1);
    }

    private static string DownVoters(List<StoreId> voters, ClusterView view)
    {
        var down = voters.Where(v => !(view.Stores.TryGetValue(v, out var s) && s.IsUp)).ToList();
        return down.Count == 0
            ? $"{voters.Count} voter(s)"
            : $"voter store(s) {string.Join(", ", down)} down";
    }
}

/// <summary>
/// How the preflight counts tolerance. Production uses <see cref="Correct"/>; the broken variants
/// exist so tests can show the preflight's checks catch them (negative controls).
/// </summary>
/// <param name="CountDownAsFailed">A voter on a Down store counts as already failed.</param>
/// <param name="JointNeedsBothMajorities">A move's joint configuration needs a majority of both old and new voters.</param>
internal sealed record ToleranceModel(bool CountDownAsFailed, bool JointNeedsBothMajorities)
{
    public static readonly ToleranceModel Correct = new(true, true);
}
