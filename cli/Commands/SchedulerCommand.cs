using System.CommandLine;
using System.Globalization;
using Kv.Cli.Output;
using Kv.Client.Administration;

namespace Kv.Cli.Commands;

/// <summary>
/// <c>kvctl scheduler status|pause|resume</c>: the placement leader's scheduler (replaces the
/// replicas of stores down too long, balances, scatters split halves). Pausing stops new
/// scheduler operations; its running ones continue (cancel them with `operation cancel`).
/// </summary>
internal static class SchedulerCommand
{
    public static Command Build(TextWriter stdout)
    {
        var scheduler = new Command("scheduler", "The placement leader's scheduler: status, pause, resume");

        var status = new Command("status", "Show whether the scheduler runs, its running operations, recent decisions and settings");
        var output = OutputWriter.CreateOption();
        status.Options.Add(output);
        var statusConnection = ClusterConnection.AddTo(status);
        status.SetAction((parse, ct) => ClusterConnection.RunAdminAsync(statusConnection.Read(parse),
            admin => StatusAsync(admin, stdout, parse.GetValue(output), ct)));
        scheduler.Subcommands.Add(status);

        scheduler.Subcommands.Add(Toggle(stdout, paused: true));
        scheduler.Subcommands.Add(Toggle(stdout, paused: false));
        return scheduler;
    }

    public static async Task<int> StatusAsync(KvAdminClient admin, TextWriter stdout, OutputFormat format, CancellationToken ct)
    {
        var view = await admin.GetSchedulerStatusAsync(ct);
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteView(stdout, format, view);
            return ExitCodes.Ok;
        }

        OutputWriter.WriteTable(stdout, ["FIELD", "VALUE"],
        [
            ["state", view.Paused ? $"paused by {view.PausedBy ?? "unknown"}{(view.PausedReason is { } r ? $" ({r})" : string.Empty)}" : "running"],
            ["running operations", view.RunningOperationIds.Count == 0 ? "none" : string.Join(", ", view.RunningOperationIds)],
            ["replication factor", view.ReplicationFactor.ToString(CultureInfo.InvariantCulture)],
            ["replace a store down for", DurationText.Format(view.StoreDownReplaceAfter)],
            ["last pass", view.LastPass is { } last ? OperationText.Time(last) : "none this term"],
        ]);
        if (view.Recent.Count > 0)
        {
            stdout.WriteLine();
            OutputWriter.WriteTable(stdout, ["AT", "OPERATION", "REASON"],
                view.Recent.Select(e => (IReadOnlyList<string>)[e.At is { } at ? OperationText.Time(at) : "-", e.OperationId?.Value ?? "-", e.Reason]).ToList());
        }

        return ExitCodes.Ok;
    }

    private static Command Toggle(TextWriter stdout, bool paused)
    {
        var command = new Command(paused ? "pause" : "resume", paused
            ? "Pause the scheduler: it submits nothing new until resumed (its running operations continue)"
            : "Resume the scheduler");
        var reason = new Option<string?>("--reason") { Description = "Why (recorded in the audit log)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the scheduler's state and what would change; change nothing" };
        command.Options.Add(reason);
        command.Options.Add(dryRun);
        var connection = ClusterConnection.AddTo(command);
        command.SetAction((parse, ct) => ClusterConnection.RunAdminAsync(connection.Read(parse), async admin =>
        {
            if (parse.GetValue(dryRun))
            {
                var now = await admin.GetSchedulerStatusAsync(ct);
                stdout.WriteLine($"dry run: the scheduler is {(now.Paused ? "paused" : "running")}; would {(paused ? "pause" : "resume")} it; nothing was changed");
                return ExitCodes.Ok;
            }

            if (paused)
            {
                await admin.PauseSchedulerAsync(parse.GetValue(reason), ct);
            }
            else
            {
                await admin.ResumeSchedulerAsync(parse.GetValue(reason), ct);
            }

            stdout.WriteLine(paused ? "scheduler paused (its running operations continue; `kvctl operation list --state running` shows them)" : "scheduler resumed");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
