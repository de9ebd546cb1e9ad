using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations;

/// <summary>
/// The words an operation's stuck ranges are reported with (shared/DESIGN.md section 8: "an
/// operation that cannot progress says which ranges are stuck and why"). Every reason starts with
/// one of the prefixes below, so an operator (and a script) can tell the cases apart; the rest
/// says what was seen and what to do. Pure: no I/O, clocks or threads.
/// </summary>
internal static class StuckReasons
{
    /// <summary>No store may take the replica (all down, draining, in maintenance, or sharing a failure domain).</summary>
    public const string NoEligibleStore = "no eligible store";

    /// <summary>A learner's snapshot or catch-up is not moving.</summary>
    public const string SnapshotFailing = "snapshot failing";

    /// <summary>A learner's snapshot or catch-up is moving; only slow.</summary>
    public const string SnapshotInProgress = "snapshot or catch-up in progress";

    /// <summary>The range is in a membership change (joint, a change pending, a learner of another step) or another operation works on it.</summary>
    public const string MidChange = "range mid-change";

    /// <summary>The step would leave a range unable to survive one more store failure.</summary>
    public const string PreflightRefusal = "preflight refusal";

    /// <summary>The range's nodes did not answer, or could not do the work in time.</summary>
    public const string Unavailable = "range unavailable";

    /// <summary>
    /// The reason for a transient answer. <paramref name="stalledAnswers"/> counts the catching-up
    /// answers in a row before this one that found the learner at the same index; from
    /// <paramref name="failingAfter"/> on, the snapshot is reported failing rather than in progress.
    /// </summary>
    public static string ForTransient(StepTransient transient, string message, int stalledAnswers, int failingAfter)
    {
        ArgumentNullException.ThrowIfNull(transient);
        return transient.Kind switch
        {
            StepTransientKind.CatchingUp when stalledAnswers >= failingAfter =>
                $"{SnapshotFailing}: the learner on store {transient.StoreId} has stayed at index {transient.MatchIndex} of {transient.LastIndex} " +
                $"for {stalledAnswers + 1} attempts in a row; check that store's disk and logs (or cancel the operation and choose another store)",
            StepTransientKind.CatchingUp =>
                $"{SnapshotInProgress}: the learner on store {transient.StoreId} is at index {transient.MatchIndex} of {transient.LastIndex}",
            StepTransientKind.MidChange => $"{MidChange}: {message}",
            _ => $"{Unavailable}: {message}",
        };
    }
}
