using Grpc.Core;
using Kv.Node.Tests.ClientReactions;
using Kv.Proto.V1;

namespace Kv.Cli.Tests;

/// <summary>
/// Scripts the admin API of a ScriptedNode as the placement leader answers it: Submit records the
/// operation (pending), Watch streams the given states after it, Get returns the last one.
/// </summary>
internal static class OperationScript
{
    public static OperationRecord Record(string id, OperationSpec spec, OperationState state, ulong revision, uint done = 0, uint left = 1, string? failure = null) => new()
    {
        Id = id,
        Spec = spec,
        State = state,
        Revision = revision,
        CurrentStep = 0,
        RequestedBy = "tester",
        Failure = failure ?? string.Empty,
        CreatedMs = 1_796_497_200_000,
        Plan = new Plan
        {
            Steps = { new PlanStep { Index = 0, Kind = StepKind.MoveReplica, RangeId = 1, Bytes = 2048, Description = "move range 1's replica from store 3 to store 4", State = StepState.Running } },
            Preflight = new Preflight { Safe = true },
        },
        Progress = new OperationProgress { RangesDone = done, RangesLeft = left, BytesDone = done * 2048ul, BytesLeft = left * 2048ul, EtaMs = left * 5000L },
    };

    /// <summary>Submit answers pending; the watch streams running (with a stuck range when asked) then final.</summary>
    public static void Script(ScriptedNode node, OperationState final = OperationState.Succeeded, string? failure = null, bool stuck = false)
    {
        node.On(AdminMethods.SubmitOperation, r => new SubmitOperationResponse { Operation = Record(r.Id, r.Spec, OperationState.Pending, 1), Created = true });
        node.OnStream(AdminMethods.WatchOperation, async (WatchOperationRequest r, IServerStreamWriter<WatchOperationResponse> stream, ServerCallContext _) =>
        {
            var submitted = node.Received(AdminMethods.SubmitOperation);
            var spec = submitted.Count > 0 ? submitted[^1].Spec : new OperationSpec();
            var running = Record(r.Id, spec, OperationState.Running, 2);
            if (stuck)
            {
                running.Stuck.Add(new StuckRange { RangeId = 11, Reason = "no eligible store in zone b", SinceMs = 1_796_497_201_000 });
            }

            await stream.WriteAsync(new WatchOperationResponse { Operation = running });
            await stream.WriteAsync(new WatchOperationResponse { Operation = Record(r.Id, spec, final, 3, done: 1, left: 0, failure: failure) });
        });
    }
}
