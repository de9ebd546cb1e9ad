using Kv.Cli.Output;
using Kv.Client.Administration;
using Kv.Client.Views;

namespace Kv.Cli.Commands;

/// <summary>
/// What every operation-submitting verb does once its arguments are checked:
/// 1. --dry-run: plan, print the plan and preflight, exit 0 (3 when the preflight is not safe and
///    --force was not given). Nothing is submitted.
/// 2. Submit with the client-chosen id (--id or a fresh one). A resubmit (same id, same content)
///    follows the recorded operation.
/// 3. --no-wait: print the id (table) or the record (json/yaml), exit 0.
/// 4. Otherwise watch it with live progress on stderr (step k of n, ranges and bytes done and
///    left, ETA, stuck ranges with reasons) and print the final record on stdout. Exit 0 when it
///    succeeded, 1 when it failed or was cancelled. Ctrl+C stops watching, not the operation (130).
/// </summary>
internal static class OperationRunner
{
    public static async Task<int> RunAsync(
        KvAdminClient admin, OperationRequest request, OperationFlags.Values flags, TextWriter stdout, TextWriter stderr, OutputFormat format, CancellationToken ct)
    {
        request = flags.Apply(request);
        if (flags.DryRun)
        {
            var plan = await admin.PlanAsync(request, ct);
            if (format == OutputFormat.Table)
            {
                OperationText.WritePlan(stdout, plan);
            }
            else
            {
                OutputWriter.WriteView(stdout, format, plan);
            }

            return plan.Preflight.Safe || flags.Force ? ExitCodes.Ok : ExitCodes.RefusedUnsafe;
        }

        var submitted = await admin.SubmitAsync(request, ct);
        var id = submitted.Operation.Id;
        if (!submitted.Created)
        {
            stderr.WriteLine($"operation {id} was already submitted with this content; following it");
        }

        if (flags.NoWait)
        {
            if (format == OutputFormat.Table)
            {
                stdout.WriteLine(id.Value);
            }
            else
            {
                OutputWriter.WriteView(stdout, format, submitted.Operation);
            }

            return ExitCodes.Ok;
        }

        stderr.WriteLine($"submitted operation {id}: {OperationText.Target(submitted.Operation.Spec)} (Ctrl+C stops watching; the operation continues)");
        return await WatchAsync(admin, submitted.Operation, stdout, stderr, format, ct);
    }

    /// <summary>Watches until the operation finishes (progress on stderr), then prints it and returns the exit code of its outcome.</summary>
    public static async Task<int> WatchAsync(KvAdminClient admin, OperationView start, TextWriter stdout, TextWriter stderr, OutputFormat format, CancellationToken ct)
    {
        var progress = new ProgressPrinter(stderr);
        var last = start;
        try
        {
            if (!start.IsFinished)
            {
                await foreach (var view in admin.WatchAsync(start.Id, ct))
                {
                    last = view;
                    progress.Show(view);
                }
            }
        }
        catch (OperationCanceledException)
        {
            progress.End();
            stderr.WriteLine($"stopped watching; operation {start.Id} continues: `kvctl operation watch {start.Id}` follows it, `kvctl operation cancel {start.Id}` stops it");
            return ExitCodes.Interrupted;
        }

        progress.End();
        if (format == OutputFormat.Table)
        {
            OperationText.WriteShow(stdout, last);
        }
        else
        {
            OutputWriter.WriteView(stdout, format, last);
        }

        switch (last.State)
        {
            case OperationStateView.Succeeded:
                return ExitCodes.Ok;
            case OperationStateView.Cancelled:
                stderr.WriteLine($"error: operation {last.Id} was cancelled{(last.CancelledBy is { } by ? $" by {by}" : string.Empty)}; what it had done stays done");
                return ExitCodes.Failed;
            default:
                stderr.WriteLine($"error: operation {last.Id} failed: {last.Failure ?? "no reason given"}; `kvctl audit list --operation {last.Id}` shows what happened");
                return ExitCodes.Failed;
        }
    }

    /// <summary>
    /// Live progress on stderr: on a terminal one line rewritten in place (plus stuck ranges under
    /// it when they change); redirected, a line each time the text changes, so logs stay readable.
    /// </summary>
    private sealed class ProgressPrinter(TextWriter stderr)
    {
        private readonly bool _live = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        private string? _line;
        private string? _stuck;
        private bool _open;

        public void Show(OperationView view)
        {
            var line = OperationText.ProgressLine(view);
            var stuck = string.Join(Environment.NewLine, OperationText.StuckLines(view));
            if (line == _line && stuck == _stuck)
            {
                return;
            }

            if (_live)
            {
                if (stuck != _stuck && stuck.Length > 0)
                {
                    stderr.Write("\r\u001b[K");
                    stderr.WriteLine(stuck);
                }

                stderr.Write("\r\u001b[K" + line);
                _open = true;
            }
            else
            {
                stderr.WriteLine(line);
                if (stuck != _stuck && stuck.Length > 0)
                {
                    stderr.WriteLine(stuck);
                }
            }

            (_line, _stuck) = (line, stuck);
        }

        public void End()
        {
            if (_open)
            {
                stderr.WriteLine();
                _open = false;
            }
        }
    }
}
