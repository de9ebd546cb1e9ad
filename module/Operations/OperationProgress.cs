using System.Globalization;
using System.Management.Automation;
using Kv.Client.Views;

namespace Kv.PowerShell.Operations;

/// <summary>
/// Write-Progress for an operation being watched: the activity names the operation; the status
/// says its state and "step k of n" with what the step does; PercentComplete comes from the
/// ranges done and left (or the steps when no range count is known); SecondsRemaining is the
/// server's ETA; stuck ranges and their reasons go in CurrentOperation.
/// </summary>
internal sealed class OperationProgress(Cmdlet cmdlet, OperationView start)
{
    // One activity per cmdlet invocation; several waits in one pipeline reuse it in turn.
    private const int ActivityId = 0x4B76; // "Kv"

    private readonly string _activity = $"Operation {start.Id}: {Describe(start.Spec)}";

    public void Show(OperationView view) => cmdlet.WriteProgress(Record(view, _activity));

    public void Complete(OperationView view)
    {
        var record = Record(view, _activity);
        record.RecordType = ProgressRecordType.Completed;
        cmdlet.WriteProgress(record);
    }

    internal static ProgressRecord Record(OperationView v, string activity)
    {
        var p = v.Progress;
        var status = v.State.ToString();
        if (v.CancelRequested && !v.IsFinished)
        {
            status += " (cancel requested)";
        }

        if (v.StepCount > 0)
        {
            var k = Math.Min((int)v.CurrentStep + 1, v.StepCount);
            status += string.Create(CultureInfo.InvariantCulture, $", step {(v.IsFinished ? v.StepCount : k)} of {v.StepCount}");
            if (!v.IsFinished && v.CurrentStep < v.Plan.Steps.Count && v.Plan.Steps[(int)v.CurrentStep].Description is { Length: > 0 } what)
            {
                status += $" ({what})";
            }
        }

        status += string.Create(CultureInfo.InvariantCulture, $" | ranges {p.RangesDone} done, {p.RangesLeft} left");
        if (!v.IsFinished)
        {
            status += " | ETA " + (p.Eta is { } eta ? eta.ToString(@"d\.hh\:mm\:ss", CultureInfo.InvariantCulture).TrimStart('0', '.') : "unknown");
        }

        var total = p.RangesDone + p.RangesLeft;
        var percent = v.State == OperationStateView.Succeeded ? 100
            : total > 0 ? (int)(p.RangesDone * 100L / total)
            : v.StepCount > 0 ? (int)(Math.Min(v.CurrentStep, (uint)v.StepCount) * 100L / v.StepCount)
            : -1;
        var record = new ProgressRecord(ActivityId, activity, status)
        {
            PercentComplete = Math.Clamp(percent, -1, 100),
            SecondsRemaining = !v.IsFinished && p.Eta is { } left ? (int)Math.Min(left.TotalSeconds, int.MaxValue) : -1,
        };
        if (v.Stuck.Count > 0)
        {
            record.CurrentOperation = "stuck: " + string.Join("; ", v.Stuck.Select(s => $"range {s.RangeId}: {s.Reason}"));
        }

        return record;
    }

    /// <summary>"DrainStore of store 3", "Split of range 1 at m", ... for the activity line and messages.</summary>
    internal static string Describe(OperationSpecView s) => s.Kind switch
    {
        OperationKindView.Split => $"split of range {s.RangeId} at {s.SplitKey}",
        OperationKindView.AddReplica => $"add a replica of range {s.RangeId} on store {s.StoreId}",
        OperationKindView.RemoveReplica => $"remove range {s.RangeId}'s replica on store {s.StoreId}",
        OperationKindView.MoveReplica => $"move range {s.RangeId}'s replica from store {s.FromStoreId} to {(s.ToStoreId is { } to ? $"store {to}" : "a store the planner picks")}",
        OperationKindView.TransferLeader => $"move range {s.RangeId}'s leadership to store {s.StoreId}",
        OperationKindView.DrainStore => $"drain store {s.StoreId}",
        _ => s.Kind.ToString(),
    };
}
