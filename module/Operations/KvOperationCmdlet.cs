using System.Management.Automation;
using Kv.Client;
using Kv.Client.Administration;
using Kv.PowerShell.Connection;

namespace Kv.PowerShell.Operations;

/// <summary>
/// The cmdlets that submit an operation (Start-KvStoreDrain, Split-KvRange, the replica and leader
/// cmdlets), with kvctl's flags as PowerShell parameters: -WhatIf is kvctl's --dry-run, -NoWait
/// --no-wait, -Force --force (override a preflight refusal; needs -Reason), -Reason --reason,
/// -Id --id. What <see cref="Submit"/> does, in order:
/// 1. Checks made before any call: -Force needs -Reason (PermissionDenied); -Id must be a valid
///    operation id (InvalidArgument). A refusal sends nothing.
/// 2. -WhatIf: plan through the dry-run API (PlanOperation), write the PlanView, warn when the
///    preflight is not safe; nothing is submitted. (-Confirm answered No: nothing at all.)
/// 3. Submit with the client-chosen id (-Id, or a fresh one). A resubmit of the same id and content
///    follows the recorded operation, with a warning saying so.
/// 4. -NoWait: write the OperationView as submitted. Otherwise wait with progress
///    (OperationWaiter): the final OperationView, and an error when it failed or was cancelled.
/// </summary>
public abstract class KvOperationCmdlet : KvCmdlet
{
    /// <summary>The operation id (A-Z a-z 0-9 . _ -, at most 128): running the cmdlet again with the same id never starts a second operation.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Id { get; set; }

    /// <summary>Return once the operation is submitted, with its record (follow it with Wait-KvOperation).</summary>
    [Parameter]
    public SwitchParameter NoWait { get; set; }

    /// <summary>Override a preflight refusal (the plan leaves some range one failure from losing quorum). Needs -Reason; audited.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Why: recorded in the operation and the audit log (required with -Force).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Reason { get; set; }

    /// <summary>
    /// Runs the steps of the class contract for request, naming it "target" and "action" in the
    /// -WhatIf / -Confirm messages.
    /// </summary>
    protected void Submit(Func<OperationRequest> request, string target, string action)
    {
        // Step 1: before any call.
        RequireReasonForForce(Force, Reason, "overriding the preflight");
        OperationId? id = null;
        if (Id is not null)
        {
            if (!OperationId.TryParse(Id, out var parsed, out var error))
            {
                ThrowTerminatingError(KvErrors.Invalid("InvalidOperationId", $"-Id: {error}", Id));
            }

            id = parsed;
        }

        var built = request() with { Force = Force.IsPresent, Reason = string.IsNullOrWhiteSpace(Reason) ? null : Reason, Id = id ?? OperationId.New() };
        if (built.Problem() is { } problem)
        {
            ThrowTerminatingError(KvErrors.Invalid("InvalidOperation", problem, target));
        }

        // Step 2.
        if (!ShouldProcess($"{action} on {target}", $"{action} on {target}?", "Submit an operation", out var why))
        {
            if (why == ShouldProcessReason.WhatIf)
            {
                var plan = Await(Admin.PlanAsync(built, StopToken));
                WriteObject(plan);
                if (!plan.Preflight.Safe)
                {
                    WriteWarning($"the preflight is not safe: {string.Join("; ", plan.Preflight.Risks.Select(r => $"range {r.RangeId}: {r.Reason}"))}. "
                        + "Submitting would be refused unless -Force -Reason \"why\".");
                }
            }

            return;
        }

        // Step 3.
        var submitted = Await(Admin.SubmitAsync(built, StopToken));
        if (!submitted.Created)
        {
            WriteWarning($"operation {submitted.Operation.Id} was already submitted with this content; following it");
        }

        // Step 4.
        if (NoWait)
        {
            WriteObject(submitted.Operation);
            return;
        }

        WriteVerbose($"submitted operation {submitted.Operation.Id}: {OperationProgress.Describe(submitted.Operation.Spec)} (Ctrl+C stops waiting; the operation continues)");
        OperationWaiter.Wait(this, Admin, submitted.Operation, null, StopToken);
    }
}
