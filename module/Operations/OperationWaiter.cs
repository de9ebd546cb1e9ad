using System.Globalization;
using System.Management.Automation;
using Kv.Client.Administration;
using Kv.Client.Views;
using Kv.PowerShell.Connection;

namespace Kv.PowerShell.Operations;

/// <summary>
/// Watches an operation until it finishes, showing Write-Progress on the way (Wait-KvOperation,
/// and every cmdlet that submits an operation without -NoWait):
/// 1. Watch (the client follows leader changes) and show each record as progress.
/// 2. When it finishes, complete the progress and write the final record to the pipeline.
/// 3. Failed or Cancelled: also a non-terminating error (OperationFailed / OperationCancelled), so
///    -ErrorAction Stop makes a runbook stop there; the record is still written first.
/// 4. A timeout (the timeout argument) stops watching, not the operation: a terminating
///    OperationTimeout error names the last record and says how to follow or stop it.
/// </summary>
internal static class OperationWaiter
{
    public static void Wait(Cmdlet cmdlet, KvAdminClient admin, OperationView start, TimeSpan? timeout, CancellationToken stopping)
    {
        var progress = new OperationProgress(cmdlet, start);
        var last = start;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        if (timeout is { } t)
        {
            deadline.CancelAfter(t);
        }

        if (!start.IsFinished)
        {
            var watch = admin.WatchAsync(start.Id, deadline.Token).GetAsyncEnumerator(deadline.Token);
            try
            {
                while (true)
                {
                    bool more;
                    try
                    {
                        more = watch.MoveNextAsync().AsTask().GetAwaiter().GetResult();
                    }
                    catch (OperationCanceledException) when (!stopping.IsCancellationRequested && deadline.IsCancellationRequested)
                    {
                        progress.Complete(last);
                        cmdlet.ThrowTerminatingError(KvErrors.Record(
                            new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                                $"operation {last.Id} is still {last.State.ToString().ToLowerInvariant()} after {timeout!.Value.TotalSeconds:0.###} s; it continues: Wait-KvOperation -Id {last.Id} follows it, Stop-KvOperation -Id {last.Id} cancels it")),
                            "OperationTimeout", ErrorCategory.OperationTimeout, last, null));
                        return;
                    }

                    if (!more)
                    {
                        break;
                    }

                    last = watch.Current;
                    progress.Show(last);
                }
            }
            finally
            {
                watch.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }

        progress.Complete(last);
        cmdlet.WriteObject(last);
        switch (last.State)
        {
            case OperationStateView.Succeeded:
                break;
            case OperationStateView.Cancelled:
                cmdlet.WriteError(KvErrors.Record(
                    new InvalidOperationException($"operation {last.Id} was cancelled{(last.CancelledBy is { } by ? $" by {by}" : string.Empty)}; what it had done stays done"),
                    "OperationCancelled", ErrorCategory.OperationStopped, last, null));
                break;
            default:
                cmdlet.WriteError(KvErrors.Record(
                    new InvalidOperationException($"operation {last.Id} {(last.State == OperationStateView.Failed ? "failed" : $"ended {last.State}")}: {last.Failure ?? "no reason given"}; Get-KvAuditEntry -OperationId {last.Id} shows what happened"),
                    "OperationFailed", ErrorCategory.InvalidResult, last, null));
                break;
        }
    }
}
