using Kv.Proto.V1;

namespace Kv.Node.Ranges.Changes;

/// <summary>Why a step can never succeed as planned.</summary>
internal enum RefusalKind
{
    /// <summary>The step itself is malformed or names what the range does not have (a store without a replica, a key outside the range).</summary>
    BadStep,

    /// <summary>The cluster's state rules it out (the last voter, a learner asked to lead, a store unknown or not Up, a store that already holds a voter).</summary>
    Precondition,

    /// <summary>The range changed under the step while it waited (its learner was removed meanwhile); nothing more was changed.</summary>
    Aborted,
}

/// <summary>Why a step should be tried again later.</summary>
internal enum TransientKind
{
    /// <summary>The learner is still catching up; <see cref="StepOutcome.Transient.Progress"/> says how far.</summary>
    CatchingUp,

    /// <summary>A membership change is in flight or unfinished on the range (pending entry, joint configuration, another step's learner).</summary>
    MidChange,

    /// <summary>Something did not answer in time (leadership did not move, placement did not allocate ids).</summary>
    Unavailable,
}

/// <summary>How far a learner has got: its match index against the leader's last index.</summary>
internal sealed record CatchUpProgress(ulong ReplicaId, ulong StoreId, ulong Match, ulong LastIndex);

/// <summary>
/// The typed result of one step (<see cref="ReplicaChangeEngine.ExecuteAsync"/>). Only Done and
/// Transient (after a phase that completed) leave the range changed; NotLeader, EpochChanged,
/// Refused and RangeNotFound change nothing.
/// </summary>
internal abstract record StepOutcome
{
    private StepOutcome()
    {
    }

    /// <summary>The step is complete. Range: the descriptor after it (a split's left half); Right: a split's right half.</summary>
    public sealed record Done(RangeDescriptor Range, RangeDescriptor? Right = null) : StepOutcome;

    /// <summary>This replica does not lead (any more): Leader is the hint, null when unknown. Retry there with the same step.</summary>
    public sealed record NotLeader(ulong RangeId, ReplicaDescriptor? Leader) : StepOutcome;

    /// <summary>The range is not at the step's epoch, nor further along this step (StepFence): replan. Current[0] is the range; the rest, ranges split off it.</summary>
    public sealed record EpochChanged(IReadOnlyList<RangeDescriptor> Current) : StepOutcome;

    /// <summary>The step can never succeed as planned; Reason says why and what to do.</summary>
    public sealed record Refused(RefusalKind Kind, string Reason) : StepOutcome;

    /// <summary>Try the same step again later; it continues where the range stands. Progress: a catch-up's.</summary>
    public sealed record Transient(TransientKind Kind, string Reason, CatchUpProgress? Progress = null) : StepOutcome;

    /// <summary>This store holds no replica of the range: ask placement where it is.</summary>
    public sealed record RangeNotFound(ulong RangeId) : StepOutcome;
}
