using System.Management.Automation;
using Kv.Client;
using Kv.Client.Views;
using Kv.PowerShell.Connection;

namespace Kv.PowerShell.Operations;

/// <summary>
/// <c>Get-KvOperation</c> (kvctl operation list|show): one operation by -Id, or the operations
/// newest first, optionally only those in -State.
/// </summary>
[Cmdlet(VerbsCommon.Get, "KvOperation", DefaultParameterSetName = ListSet)]
[OutputType(typeof(OperationView))]
public sealed class GetKvOperationCommand : KvCmdlet
{
    private const string ListSet = "List";
    private const string IdSet = "Id";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = IdSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [OperationIdTransformation]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(OperationIdCompleter))]
    public string Id { get; set; } = string.Empty;

    /// <summary>Only operations in these states (default: all).</summary>
    [Parameter(ParameterSetName = ListSet)]
    [ValidateSet("Pending", "Running", "Succeeded", "Failed", "Cancelled")]
    public string[]? State { get; set; }

    /// <summary>At most this many, newest first (1 to 1000; default: the server's, 100).</summary>
    [Parameter(ParameterSetName = ListSet)]
    [ValidateRange(1, 1000)]
    public int Limit { get; set; }

    protected override object? Target => ParameterSetName == IdSet ? Id : null;

    protected override void Process()
    {
        if (ParameterSetName == IdSet)
        {
            WriteObject(Await(Admin.GetAsync(OperationIds.Parse(this, Id), StopToken)));
            return;
        }

        var states = State?.Select(s => Enum.Parse<OperationStateView>(s, ignoreCase: true)).ToArray();
        foreach (var operation in Await(Admin.ListAsync(states, Limit, null, StopToken)))
        {
            WriteObject(operation);
        }
    }
}

/// <summary>
/// <c>Wait-KvOperation</c> (kvctl operation watch): follows an operation with Write-Progress (step
/// k of n, ranges done and left, ETA) until it finishes and writes its final record; an error
/// too when it failed or was cancelled. -Timeout stops waiting (not the operation) with an
/// OperationTimeout error.
/// </summary>
[Cmdlet(VerbsLifecycle.Wait, "KvOperation")]
[OutputType(typeof(OperationView))]
public sealed class WaitKvOperationCommand : KvCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [OperationIdTransformation]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(OperationIdCompleter))]
    public string Id { get; set; } = string.Empty;

    /// <summary>Seconds to wait at most (default: until it finishes).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Timeout { get; set; }

    protected override object? Target => Id;

    protected override void Process()
    {
        var id = OperationIds.Parse(this, Id);
        var start = Await(Admin.GetAsync(id, StopToken));
        OperationWaiter.Wait(this, Admin, start, Timeout > 0 ? TimeSpan.FromSeconds(Timeout) : null, StopToken);
    }
}

/// <summary>
/// <c>Stop-KvOperation</c> (kvctl operation cancel): cancels a pending operation at once and a
/// running one after its current step (CancelRequested in the record it writes). A finished one
/// is refused by placement (FailedPrecondition); nothing changes.
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "KvOperation", SupportsShouldProcess = true)]
[OutputType(typeof(OperationView))]
public sealed class StopKvOperationCommand : KvCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [OperationIdTransformation]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(OperationIdCompleter))]
    public string Id { get; set; } = string.Empty;

    /// <summary>Why (recorded in the operation and the audit log).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Reason { get; set; }

    protected override object? Target => Id;

    protected override void Process()
    {
        var id = OperationIds.Parse(this, Id);
        if (ShouldProcess($"operation {id}", "Cancel"))
        {
            WriteObject(Await(Admin.CancelAsync(id, Reason, StopToken)));
        }
    }
}

/// <summary>Operation ids as the user typed them: checked before any call.</summary>
internal static class OperationIds
{
    public static OperationId Parse(Cmdlet cmdlet, string text)
    {
        if (!OperationId.TryParse(text, out var id, out var error))
        {
            cmdlet.ThrowTerminatingError(KvErrors.Invalid("InvalidOperationId", $"-Id: {error}; Get-KvOperation lists the operations", text));
        }

        return id;
    }
}
