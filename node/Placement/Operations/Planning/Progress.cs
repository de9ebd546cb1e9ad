using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations.Planning;

/// <summary>
/// An operation's progress from its plan and step states. Pure: the clock is a parameter.
/// <list type="bullet">
/// <item>Each step is about one range. Done and Skipped steps count as done; Pending, Running and
/// Failed as left; Superseded steps are history (a replan replaced them) and count as neither.</item>
/// <item>Bytes are the sizes the steps recorded when planned.</item>
/// <item>The ETA extrapolates the rate of the Done steps since the operation started: by bytes when
/// they moved any, else by steps. Skipped steps took no time, so they do not speed the rate up.
/// 0 when unknown (nothing done yet, or no time has passed) and when nothing is left.</item>
/// </list>
/// </summary>
internal static class Progress
{
    /// <summary>Progress of <paramref name="plan"/> with its steps' own states.</summary>
    public static OperationProgress Compute(Plan plan, long nowMs, long startedMs)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return Compute(plan, plan.Steps.Select(s => s.State).ToList(), nowMs, startedMs);
    }

    /// <summary>Progress of <paramref name="plan"/> with <paramref name="states"/> (one per step, in order).</summary>
    public static OperationProgress Compute(Plan plan, IReadOnlyList<StepState> states, long nowMs, long startedMs)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(states);
        if (states.Count != plan.Steps.Count)
        {
            throw new ArgumentException($"{states.Count} step states for a plan of {plan.Steps.Count} steps", nameof(states));
        }

        var progress = new OperationProgress();
        ulong bytesDoneByWork = 0;
        uint stepsDoneByWork = 0;
        for (int i = 0; i < states.Count; i++)
        {
            ulong bytes = plan.Steps[i].Bytes;
            switch (states[i])
            {
                case StepState.Done:
                    progress.RangesDone++;
                    progress.BytesDone += bytes;
                    bytesDoneByWork += bytes;
                    stepsDoneByWork++;
                    break;
                case StepState.Skipped:
                    progress.RangesDone++;
                    progress.BytesDone += bytes;
                    break;
                case StepState.Superseded:
                    break;
                default:
                    progress.RangesLeft++;
                    progress.BytesLeft += bytes;
                    break;
            }
        }

        long elapsed = nowMs - startedMs;
        if (progress.RangesLeft == 0 || elapsed <= 0 || startedMs <= 0)
        {
            return progress;
        }

        if (bytesDoneByWork > 0 && progress.BytesLeft > 0)
        {
            progress.EtaMs = (long)Math.Ceiling(elapsed * (double)progress.BytesLeft / bytesDoneByWork);
        }
        else if (stepsDoneByWork > 0)
        {
            progress.EtaMs = (long)Math.Ceiling(elapsed * (double)progress.RangesLeft / stepsDoneByWork);
        }

        return progress;
    }
}
