using System.CommandLine;
using Kv.Cli.Output;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Views;

namespace Kv.Cli.Commands;

/// <summary>
/// <c>kvctl operation list|show|watch|cancel</c>: the operation records placement keeps
/// (shared/DESIGN.md section 8). -o json prints the views' contract (kind Operation, OperationList).
/// </summary>
internal static class OperationCommand
{
    public static Command Build(TextWriter stdout)
    {
        var operation = new Command("operation", "Operations: durable, planned, observable administrative actions (splits, replica changes, drains)");

        var list = new Command("list", "List operations, newest first");
        var states = new Option<string[]>("--state") { Description = "Only these states: pending, running, succeeded, failed, cancelled (repeat or comma-separate)", AllowMultipleArgumentsPerToken = true };
        var limit = new Option<int>("--limit") { Description = "At most this many (1 to 1000)", DefaultValueFactory = _ => 100 };
        var since = new Option<string?>("--since") { Description = "Only operations created since: a duration ago (1h, 30m, 2d) or an ISO 8601 time" };
        var listOutput = OutputWriter.CreateOption();
        list.Options.Add(states);
        list.Options.Add(limit);
        list.Options.Add(since);
        list.Options.Add(listOutput);
        var listConnection = ClusterConnection.AddTo(list);
        list.SetAction((parse, ct) =>
        {
            var target = listConnection.Read(parse);
            if (!ParseStates(parse.GetValue(states), out var wanted, out var error)
                || (parse.GetValue(limit) is < 1 or > 1000 && (error = $"--limit must be 1 to 1000, not {parse.GetValue(limit)}") is not null))
            {
                return Usage(target, error!);
            }

            DateTimeOffset? from = null;
            if (parse.GetValue(since) is { } text && (from = DurationText.ParseSince(text, DateTimeOffset.UtcNow, "--since", out error)) is null)
            {
                return Usage(target, error!);
            }

            return ClusterConnection.RunAdminAsync(target, admin => ListAsync(admin, wanted, parse.GetValue(limit), from, stdout, parse.GetValue(listOutput), ct));
        });
        operation.Subcommands.Add(list);

        var show = new Command("show", "Show one operation: target, state, progress, stuck ranges, and its plan's steps");
        var showId = IdArgument();
        var showOutput = OutputWriter.CreateOption();
        show.Arguments.Add(showId);
        show.Options.Add(showOutput);
        var showConnection = ClusterConnection.AddTo(show);
        show.SetAction((parse, ct) =>
        {
            var target = showConnection.Read(parse);
            return ParseId(parse.GetValue(showId), target, out var id) ?? ClusterConnection.RunAdminAsync(target, admin => ShowAsync(admin, id, stdout, parse.GetValue(showOutput), ct));
        });
        operation.Subcommands.Add(show);

        var watch = new Command("watch", "Follow an operation until it finishes, with live progress; exit 0 when it succeeded, 1 when it failed or was cancelled");
        var watchId = IdArgument();
        var watchOutput = OutputWriter.CreateOption();
        watch.Arguments.Add(watchId);
        watch.Options.Add(watchOutput);
        var watchConnection = ClusterConnection.AddTo(watch);
        watch.SetAction((parse, ct) =>
        {
            var target = watchConnection.Read(parse);
            return ParseId(parse.GetValue(watchId), target, out var id) ?? ClusterConnection.RunAdminAsync(target, async admin =>
                await OperationRunner.WatchAsync(admin, await admin.GetAsync(id, ct), stdout, target.Stderr, parse.GetValue(watchOutput), ct));
        });
        operation.Subcommands.Add(watch);

        var cancel = new Command("cancel", "Cancel an operation: a pending one at once, a running one after its current step finishes or rolls back");
        var cancelId = IdArgument();
        var cancelReason = new Option<string?>("--reason") { Description = "Why (recorded in the audit log)" };
        var cancelDryRun = new Option<bool>("--dry-run") { Description = "Show the operation that would be cancelled; change nothing" };
        var cancelOutput = OutputWriter.CreateOption();
        cancel.Arguments.Add(cancelId);
        cancel.Options.Add(cancelReason);
        cancel.Options.Add(cancelDryRun);
        cancel.Options.Add(cancelOutput);
        var cancelConnection = ClusterConnection.AddTo(cancel);
        cancel.SetAction((parse, ct) =>
        {
            var target = cancelConnection.Read(parse);
            return ParseId(parse.GetValue(cancelId), target, out var id) ?? ClusterConnection.RunAdminAsync(target,
                admin => CancelAsync(admin, id, parse.GetValue(cancelReason), parse.GetValue(cancelDryRun), stdout, target.Stderr, parse.GetValue(cancelOutput), ct));
        });
        operation.Subcommands.Add(cancel);
        return operation;
    }

    public static async Task<int> ListAsync(KvAdminClient admin, IReadOnlyCollection<OperationStateView> states, int limit, DateTimeOffset? since, TextWriter stdout, OutputFormat format, CancellationToken ct)
    {
        var operations = await admin.ListAsync(states, limit, since, ct);
        if (format == OutputFormat.Table)
        {
            OperationText.WriteList(stdout, operations);
        }
        else
        {
            OutputWriter.WriteView(stdout, format, new ListView<OperationView>("OperationList", operations));
        }

        return ExitCodes.Ok;
    }

    public static async Task<int> ShowAsync(KvAdminClient admin, OperationId id, TextWriter stdout, OutputFormat format, CancellationToken ct)
    {
        var view = await admin.GetAsync(id, ct);
        if (format == OutputFormat.Table)
        {
            OperationText.WriteShow(stdout, view);
        }
        else
        {
            OutputWriter.WriteView(stdout, format, view);
        }

        return ExitCodes.Ok;
    }

    public static async Task<int> CancelAsync(KvAdminClient admin, OperationId id, string? reason, bool dryRun, TextWriter stdout, TextWriter stderr, OutputFormat format, CancellationToken ct)
    {
        var view = dryRun ? await admin.GetAsync(id, ct) : await admin.CancelAsync(id, reason, ct);
        if (format == OutputFormat.Table)
        {
            stdout.WriteLine(dryRun
                ? (view.IsFinished ? $"dry run: operation {id} is {OperationText.State(view.State)}; a cancel would be refused" : $"dry run: would cancel operation {id} ({OperationText.Target(view.Spec)}, {OperationText.State(view.State)}); nothing was changed")
                : view.State == OperationStateView.Cancelled ? $"operation {id} cancelled" : $"cancel requested for operation {id}: its current step finishes or rolls back first (`kvctl operation watch {id}`)");
        }
        else
        {
            OutputWriter.WriteView(stdout, format, view);
        }

        if (dryRun && view.IsFinished)
        {
            stderr.WriteLine($"error: operation {id} already {OperationText.State(view.State)}; there is nothing to cancel");
            return ExitCodes.RefusedUnsafe;
        }

        return ExitCodes.Ok;
    }

    internal static bool ParseStates(string[]? values, out List<OperationStateView> states, out string? error)
    {
        states = [];
        error = null;
        foreach (var value in (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            if (!Enum.TryParse<OperationStateView>(value, ignoreCase: true, out var state) || state == OperationStateView.Unknown || int.TryParse(value, out _))
            {
                error = $"--state '{value}' is not a state; use pending, running, succeeded, failed or cancelled";
                return false;
            }

            states.Add(state);
        }

        return true;
    }

    internal static Argument<string> IdArgument() => new("id") { Description = "The operation id (see `kvctl operation list`)" };

    /// <summary>Null when the id parses (id set); else the usage exit, with the reason on stderr.</summary>
    internal static Task<int>? ParseId(string? text, ClusterConnection.Target target, out OperationId id)
    {
        if (OperationId.TryParse(text, out id, out var error))
        {
            return null;
        }

        return Usage(target, error!);
    }

    internal static Task<int> Usage(ClusterConnection.Target target, string error)
    {
        target.Stderr.WriteLine($"error: {error}");
        return Task.FromResult(ExitCodes.Usage);
    }
}
