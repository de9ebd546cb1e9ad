using System.Management.Automation;
using Kv.Client;
using Kv.Client.Views;
using Kv.PowerShell.Connection;
using Kv.PowerShell.Operations;

namespace Kv.PowerShell.Scheduler;

/// <summary><c>Get-KvSchedulerStatus</c> (kvctl scheduler status): paused or not (by whom, why), its running operations and recent events.</summary>
[Cmdlet(VerbsCommon.Get, "KvSchedulerStatus")]
[OutputType(typeof(SchedulerStatusView))]
public sealed class GetKvSchedulerStatusCommand : KvCmdlet
{
    protected override void Process() => WriteObject(Await(Admin.GetSchedulerStatusAsync(StopToken)));
}

/// <summary>
/// <c>Suspend-KvScheduler</c> (kvctl scheduler pause): the scheduler submits nothing new; the
/// operations it already started continue (Stop-KvOperation stops them). -PassThru writes the status after.
/// </summary>
[Cmdlet(VerbsLifecycle.Suspend, "KvScheduler", SupportsShouldProcess = true)]
[OutputType(typeof(SchedulerStatusView))]
public sealed class SuspendKvSchedulerCommand : KvCmdlet
{
    /// <summary>Why (shown in Get-KvSchedulerStatus and the audit log).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Reason { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        if (ShouldProcess("the scheduler", "Pause (submit no new operations)"))
        {
            Await(Admin.PauseSchedulerAsync(Reason, StopToken));
            if (PassThru)
            {
                WriteObject(Await(Admin.GetSchedulerStatusAsync(StopToken)));
            }
        }
    }
}

/// <summary><c>Resume-KvScheduler</c> (kvctl scheduler resume): the scheduler proposes operations again. -PassThru writes the status after.</summary>
[Cmdlet(VerbsLifecycle.Resume, "KvScheduler", SupportsShouldProcess = true)]
[OutputType(typeof(SchedulerStatusView))]
public sealed class ResumeKvSchedulerCommand : KvCmdlet
{
    /// <summary>Why (recorded in the audit log).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Reason { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        if (ShouldProcess("the scheduler", "Resume"))
        {
            Await(Admin.ResumeSchedulerAsync(Reason, StopToken));
            if (PassThru)
            {
                WriteObject(Await(Admin.GetSchedulerStatusAsync(StopToken)));
            }
        }
    }
}

/// <summary>
/// <c>Get-KvAuditEntry</c> (kvctl audit list): the audit log oldest first: who did what to what,
/// the epochs before and after, why and the outcome. -Since a time, -OperationId one operation's entries.
/// </summary>
[Cmdlet(VerbsCommon.Get, "KvAuditEntry")]
[OutputType(typeof(AuditEntryView))]
public sealed class GetKvAuditEntryCommand : KvCmdlet
{
    /// <summary>Entries at or after this time (default: the oldest kept). A DateTime without a kind is local time.</summary>
    [Parameter(Position = 0)]
    public DateTime? Since { get; set; }

    /// <summary>Only this operation's entries.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Id")]
    [OperationIdTransformation]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(OperationIdCompleter))]
    public string? OperationId { get; set; }

    /// <summary>At most this many (1 to 10000; default: the server's, 200).</summary>
    [Parameter]
    [ValidateRange(1, 10000)]
    public int Limit { get; set; }

    protected override object? Target => OperationId;

    protected override void Process()
    {
        OperationId? operation = OperationId is null ? null : OperationIds.Parse(this, OperationId);
        DateTimeOffset? since = Since is { } s ? new DateTimeOffset(s.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(s, DateTimeKind.Local) : s) : null;
        WriteObject(Await(Admin.ListAuditAsync(since, Limit, operation, StopToken)), enumerateCollection: true);
    }
}
