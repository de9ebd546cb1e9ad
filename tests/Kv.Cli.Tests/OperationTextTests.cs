using Kv.Cli.Output;
using Kv.Client.Views;
using Kv.Proto.V1;

namespace Kv.Cli.Tests;

/// <summary>The step part of kvctl's operation lines (progress, show).</summary>
public sealed class OperationTextTests
{
    private static OperationView Running(uint currentStep, int steps)
    {
        var record = new OperationRecord { Id = "op-1", State = OperationState.Running, CurrentStep = currentStep, Plan = new Plan() };
        for (var i = 0; i < steps; i++)
        {
            record.Plan.Steps.Add(new PlanStep { Index = (uint)i, Kind = StepKind.MoveReplica, RangeId = 1, Description = $"move {i}" });
        }

        return OperationView.From(record);
    }

    [Fact]
    public void A_running_operation_shows_the_step_being_driven()
    {
        Assert.Equal("step 1 of 4", OperationText.Step(Running(0, 4)));
        Assert.Equal("step 4 of 4", OperationText.Step(Running(3, 4)));
        Assert.Contains("step 4 of 4 (move 3)", OperationText.ProgressLine(Running(3, 4)), StringComparison.Ordinal);
    }

    /// <summary>
    /// Regression (seen in the system tests' kvctl output): a drain whose last step was done but
    /// which was still Running (current_step = step count) showed "step 5 of 4".
    /// </summary>
    [Fact]
    public void A_running_operation_past_its_last_step_says_it_is_finishing_not_step_n_plus_one()
    {
        Assert.Equal("4 of 4 steps done, finishing", OperationText.Step(Running(4, 4)));
        Assert.DoesNotContain("step 5 of 4", OperationText.ProgressLine(Running(4, 4)), StringComparison.Ordinal);
    }
}
