using System.Globalization;
using Kv.Cli.Commands;
using Kv.Client.Views;

namespace Kv.Cli.Output;

/// <summary>The table and progress forms of operation views (JSON and YAML are the views themselves).</summary>
internal static class OperationText
{
    /// <summary>"split range 3", "drain store 4", "move range 7 from store 4 to store 2".</summary>
    public static string Target(OperationSpecView s) => s.Kind switch
    {
        OperationKindView.Split => $"split range {s.RangeId} at {s.SplitKey}",
        OperationKindView.AddReplica => $"add a replica of range {s.RangeId} on store {s.StoreId}",
        OperationKindView.RemoveReplica => $"remove range {s.RangeId}'s replica on store {s.StoreId}",
        OperationKindView.MoveReplica => $"move range {s.RangeId}'s replica from store {s.FromStoreId} to {(s.ToStoreId is { } to ? $"store {to}" : "a store the planner picks")}",
        OperationKindView.TransferLeader => $"move range {s.RangeId}'s leadership to store {s.StoreId}",
        OperationKindView.DrainStore => $"drain store {s.StoreId}",
        OperationKindView.ReplaceStore => $"replace the replicas of store {s.StoreId}",
        OperationKindView.Balance => "balance replicas and leaders",
        _ => "unknown kind",
    };

    public static string Kebab(OperationKindView kind) => kind switch
    {
        OperationKindView.AddReplica => "add-replica",
        OperationKindView.RemoveReplica => "remove-replica",
        OperationKindView.MoveReplica => "move-replica",
        OperationKindView.TransferLeader => "transfer-leader",
        OperationKindView.DrainStore => "drain-store",
        OperationKindView.ReplaceStore => "replace-store",
        _ => kind.ToString().ToLowerInvariant(),
    };

    public static string State(OperationStateView state) => state.ToString().ToLowerInvariant();

    /// <summary>
    /// "step 2 of 5" while running; "5 of 5 steps done, finishing" once the last step is done and the
    /// operation is still running (current_step is then the step count: a drain waits for the
    /// directory to show its store empty); the step count otherwise.
    /// </summary>
    public static string Step(OperationView v) => v.State == OperationStateView.Running && v.StepCount > 0
        ? v.CurrentStep >= v.StepCount
            ? string.Create(CultureInfo.InvariantCulture, $"{v.StepCount} of {v.StepCount} steps done, finishing")
            : string.Create(CultureInfo.InvariantCulture, $"step {v.CurrentStep + 1} of {v.StepCount}")
        : string.Create(CultureInfo.InvariantCulture, $"{v.StepCount} step{(v.StepCount == 1 ? string.Empty : "s")}");

    /// <summary>One line of live progress: state, step k of n and what it does, ranges and bytes done and left, ETA.</summary>
    public static string ProgressLine(OperationView v)
    {
        var p = v.Progress;
        var line = $"{v.Id}: {State(v.State)}{(v.CancelRequested && !v.IsFinished ? " (cancel requested)" : string.Empty)}";
        if (v.State == OperationStateView.Running && v.StepCount > 0)
        {
            line += $", {Step(v)}";
            if (v.CurrentStep < v.Plan.Steps.Count && v.Plan.Steps[(int)v.CurrentStep].Description is { Length: > 0 } what)
            {
                line += $" ({what})";
            }
        }

        line += string.Create(CultureInfo.InvariantCulture, $" | ranges {p.RangesDone} done, {p.RangesLeft} left | {StoreCommand.Size(p.BytesDone)} done, {StoreCommand.Size(p.BytesLeft)} left");
        if (!v.IsFinished)
        {
            line += $" | ETA {(p.Eta is { } eta ? DurationText.Format(eta) : "unknown")}";
        }

        return line;
    }

    /// <summary>"  stuck: range 7 (since 19:01:02Z): no eligible store", one per stuck range.</summary>
    public static IEnumerable<string> StuckLines(OperationView v) =>
        v.Stuck.Select(s => $"  stuck: range {s.RangeId}{(s.Since is { } since ? $" (since {Time(since)})" : string.Empty)}: {s.Reason}");

    public static void WriteList(TextWriter stdout, IReadOnlyList<OperationView> operations)
    {
        if (operations.Count == 0)
        {
            stdout.WriteLine("no operations");
            return;
        }

        OutputWriter.WriteTable(stdout, ["ID", "KIND", "TARGET", "STATE", "PROGRESS", "REQUESTED BY", "CREATED"],
            operations.Select(v => (IReadOnlyList<string>)
            [
                v.Id.Value, Kebab(v.Spec.Kind), Target(v.Spec), State(v.State) + (v.Stuck.Count > 0 ? $" (stuck: {v.Stuck.Count})" : string.Empty),
                v.State == OperationStateView.Running ? Step(v) : string.Create(CultureInfo.InvariantCulture, $"{v.Progress.RangesDone}/{v.Progress.RangesDone + v.Progress.RangesLeft} ranges"),
                v.RequestedBy, v.Created is { } c ? Time(c) : "-",
            ]).ToList());
    }

    public static void WriteShow(TextWriter stdout, OperationView v)
    {
        var rows = new List<IReadOnlyList<string>>
        {
            new[] { "id", v.Id.Value },
            new[] { "kind", Kebab(v.Spec.Kind) },
            new[] { "target", Target(v.Spec) + (v.Spec.Force ? " (forced)" : string.Empty) },
            new[] { "state", State(v.State) + (v.CancelRequested && !v.IsFinished ? " (cancel requested)" : string.Empty) },
            new[] { "progress", ProgressLine(v)[(v.Id.Value.Length + 2)..] },
            new[] { "requested by", v.RequestedBy + (v.Reason is { } r ? $" ({r})" : string.Empty) },
            new[] { "created", v.Created is { } c ? Time(c) : "-" },
        };
        if (v.Finished is { } f)
        {
            rows.Add(["finished", Time(f)]);
        }

        if (v.Failure is { } failure)
        {
            rows.Add(["failure", failure]);
        }

        if (v.CancelledBy is { } by)
        {
            rows.Add(["cancelled by", by]);
        }

        if (v.Replans > 0)
        {
            rows.Add(["replans", v.Replans.ToString(CultureInfo.InvariantCulture)]);
        }

        rows.AddRange(v.Stuck.Select(s => (IReadOnlyList<string>)[$"stuck range {s.RangeId}", s.Reason]));
        OutputWriter.WriteTable(stdout, ["FIELD", "VALUE"], rows);
        stdout.WriteLine();
        WriteSteps(stdout, v.Plan);
    }

    /// <summary>The dry run: the steps, the preflight's verdict and risks, and the planner's notes.</summary>
    public static void WritePlan(TextWriter stdout, PlanView plan)
    {
        WriteSteps(stdout, plan);
        stdout.WriteLine();
        stdout.WriteLine(plan.Preflight.Safe
            ? "preflight: safe (no range loses quorum if one more store fails during any step)"
            : "preflight: NOT SAFE (submitting is refused unless --force --reason \"why\")");
        if (plan.Preflight.Risks.Count > 0)
        {
            OutputWriter.WriteTable(stdout, ["RANGE", "STEP", "TOLERANCE BEFORE/DURING/AFTER", "REASON"],
                plan.Preflight.Risks.Select(r => (IReadOnlyList<string>)
                [
                    r.RangeId.ToString(), (r.Step + 1).ToString(CultureInfo.InvariantCulture),
                    string.Create(CultureInfo.InvariantCulture, $"{r.ToleranceBefore}/{r.ToleranceDuring}/{r.ToleranceAfter}"), r.Reason,
                ]).ToList());
        }

        foreach (var note in plan.Notes)
        {
            stdout.WriteLine($"note: {note}");
        }

        stdout.WriteLine("dry run: nothing was changed");
    }

    private static void WriteSteps(TextWriter stdout, PlanView plan)
    {
        if (plan.Steps.Count == 0)
        {
            stdout.WriteLine("plan: no steps (nothing to do)");
            return;
        }

        OutputWriter.WriteTable(stdout, ["STEP", "KIND", "RANGE", "EPOCH", "SIZE", "STATE", "DESCRIPTION"],
            plan.Steps.Select(s => (IReadOnlyList<string>)
            [
                (s.Index + 1).ToString(CultureInfo.InvariantCulture), s.Kind.ToString(), s.RangeId?.ToString() ?? "-", s.Epoch?.ToString() ?? "-",
                StoreCommand.Size(s.Bytes), s.State.ToString().ToLowerInvariant() + (s.Error is { } e ? $": {e}" : string.Empty), s.Description,
            ]).ToList());
    }

    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}
