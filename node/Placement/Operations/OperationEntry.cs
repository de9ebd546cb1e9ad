using System.Collections.Immutable;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations;

/// <summary>
/// One operation as placement holds it: the record without its steps (<see cref="Header"/>), the
/// plan without its steps (<see cref="PlanHead"/>: preflight and notes) and the steps in an
/// immutable list, so that updating one step of a 10,000-step plan copies O(log n), not the plan.
/// Every message held is frozen: never mutate one (clone it, as <see cref="ToRecord"/> does).
/// </summary>
internal sealed record OperationEntry(OperationRecord Header, Plan PlanHead, ImmutableList<PlanStep> Steps)
{
    public string Id => Header.Id;

    public OperationState State => Header.State;

    /// <summary>Succeeded, Failed or Cancelled: nothing more will change.</summary>
    public bool IsFinal => IsFinalState(Header.State);

    internal static bool IsFinalState(OperationState state) =>
        state is OperationState.Succeeded or OperationState.Failed or OperationState.Cancelled;

    /// <summary>The complete record (header, plan and every step), a fresh copy the caller may change.</summary>
    public OperationRecord ToRecord()
    {
        var record = Header.Clone();
        record.Plan = PlanHead.Clone();
        foreach (var step in Steps)
        {
            record.Plan.Steps.Add(step.Clone());
        }

        return record;
    }
}
