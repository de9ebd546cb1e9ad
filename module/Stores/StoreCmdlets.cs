using System.Management.Automation;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Views;
using Kv.PowerShell.Connection;
using Kv.PowerShell.Operations;

namespace Kv.PowerShell.Stores;

/// <summary><c>Get-KvStore</c> (kvctl store list): every store as placement's admin view knows it, or the one -StoreId names.</summary>
[Cmdlet(VerbsCommon.Get, "KvStore")]
[OutputType(typeof(StoreView))]
public sealed class GetKvStoreCommand : KvCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Id")]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(StoreIdCompleter))]
    public ulong[]? StoreId { get; set; }

    protected override object? Target => StoreId;

    protected override void Process()
    {
        var stores = Await(Admin.ListStoreStatusAsync(StopToken));
        if (StoreId is null)
        {
            WriteObject(stores, enumerateCollection: true);
            return;
        }

        foreach (var id in StoreId)
        {
            if (stores.FirstOrDefault(s => s.Id.Value == id) is { } store)
            {
                WriteObject(store);
            }
            else
            {
                // Like Get-Item: one missing store does not hide the others.
                WriteError(KvErrors.Record(new ItemNotFoundException($"store {id} not found; Get-KvStore lists the stores that exist"),
                    "StoreNotFound", ErrorCategory.ObjectNotFound, id, null));
            }
        }
    }
}

/// <summary>
/// <c>Start-KvStoreDrain</c> (kvctl store drain): an operation that moves every replica and
/// leader off the store (respecting labels). -WhatIf prints the plan (dry run); cancel it with
/// Stop-KvStoreDrain until its last replica leaves.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "KvStoreDrain", SupportsShouldProcess = true)]
[OutputType(typeof(OperationView), typeof(PlanView))]
public sealed class StartKvStoreDrainCommand : KvOperationCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(StoreIdCompleter))]
    public ulong StoreId { get; set; }

    protected override object? Target => StoreId;

    protected override void Process() =>
        Submit(() => OperationRequest.DrainStore(new StoreId(StoreId)), $"store {StoreId}", "Drain (move every replica and leader off the store)");
}

/// <summary>
/// <c>Stop-KvStoreDrain</c> (kvctl store undrain): stops a drain while the store still holds a
/// replica; the drain is cancelled, the store is active again, what already moved stays.
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "KvStoreDrain", SupportsShouldProcess = true)]
[OutputType(typeof(StoreView))]
public sealed class StopKvStoreDrainCommand : KvCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(StoreIdCompleter))]
    public ulong StoreId { get; set; }

    /// <summary>Why (recorded in the audit log).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Reason { get; set; }

    protected override object? Target => StoreId;

    protected override void Process()
    {
        if (ShouldProcess($"store {StoreId}", "Stop the drain (the store becomes active again)"))
        {
            WriteObject(Await(Admin.UndrainStoreAsync(new StoreId(StoreId), Reason, StopToken)));
        }
    }
}

/// <summary>
/// <c>Remove-KvStore</c> (kvctl store remove): a drained store becomes Removed, for good: it may
/// never register again. ConfirmImpact High, so it asks first; -Force skips the question and,
/// being an unattended removal, needs -Reason (refused before any call without one).
/// </summary>
[Cmdlet(VerbsCommon.Remove, "KvStore", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(StoreView))]
public sealed class RemoveKvStoreCommand : KvCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(StoreIdCompleter))]
    public ulong StoreId { get; set; }

    /// <summary>Why (recorded in the audit log; required with -Force).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Reason { get; set; }

    /// <summary>Remove without asking (needs -Reason).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override object? Target => StoreId;

    protected override void Process()
    {
        RequireReasonForForce(Force, Reason, "removing a store without confirmation");

        // ConfirmImpact High asks by default; -Force (with its reason) is the unattended path, but
        // -WhatIf still only says what would happen.
        if ((Force && !WhatIfRequested) || ShouldProcess($"store {StoreId}", "Remove for good (it may never register again; its node needs an empty data directory to rejoin)"))
        {
            WriteObject(Await(Admin.RemoveStoreAsync(new StoreId(StoreId), Reason, StopToken)));
        }
    }
}

/// <summary>
/// <c>Set-KvStoreMaintenance</c> (kvctl store maintenance --for): a maintenance window during
/// which the scheduler does not replace the store's replicas (0 to 7 days; 0 ends it now).
/// </summary>
[Cmdlet(VerbsCommon.Set, "KvStoreMaintenance", SupportsShouldProcess = true)]
[OutputType(typeof(StoreView))]
public sealed class SetKvStoreMaintenanceCommand : KvCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(StoreIdCompleter))]
    public ulong StoreId { get; set; }

    /// <summary>How long (a TimeSpan: '00:30:00', (New-TimeSpan -Hours 2)); at most 7 days; zero ends the window now.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    public TimeSpan Duration { get; set; }

    /// <summary>Why (recorded in the audit log).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Reason { get; set; }

    protected override object? Target => StoreId;

    protected override void Process()
    {
        if (Duration < TimeSpan.Zero || Duration > KvAdminClient.MaxMaintenance)
        {
            ThrowTerminatingError(KvErrors.Invalid("InvalidDuration",
                $"-Duration {Duration} is outside 0 to 7 days: a maintenance window lasts at most 7 days, and 0 ends it now", Duration));
        }

        var action = Duration == TimeSpan.Zero ? "End the maintenance window" : $"Start a maintenance window of {Duration}";
        if (ShouldProcess($"store {StoreId}", action))
        {
            WriteObject(Await(Admin.SetStoreMaintenanceAsync(new StoreId(StoreId), Duration, Reason, StopToken)));
        }
    }
}
