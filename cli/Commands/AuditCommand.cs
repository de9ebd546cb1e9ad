using System.CommandLine;
using Kv.Cli.Output;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Views;

namespace Kv.Cli.Commands;

/// <summary><c>kvctl audit list [--since 1h|TIMESTAMP] [--operation ID] [--limit N]</c>: placement's audit log, oldest first.</summary>
internal static class AuditCommand
{
    public static Command Build(TextWriter stdout)
    {
        var audit = new Command("audit", "The audit log: every operation, cancel, override and setting change (who, what, epochs, reason, outcome)");
        var list = new Command("list", "List audit entries, oldest first");
        var since = new Option<string?>("--since") { Description = "Entries since: a duration ago (1h, 30m, 2d) or an ISO 8601 time (default: the oldest kept)" };
        var operation = new Option<string?>("--operation") { Description = "Only entries about this operation id" };
        var limit = new Option<int>("--limit") { Description = "At most this many (1 to 10000)", DefaultValueFactory = _ => 200 };
        var output = OutputWriter.CreateOption();
        list.Options.Add(since);
        list.Options.Add(operation);
        list.Options.Add(limit);
        list.Options.Add(output);
        var connection = ClusterConnection.AddTo(list);
        list.SetAction((parse, ct) =>
        {
            var target = connection.Read(parse);
            DateTimeOffset? from = null;
            string? error;
            if (parse.GetValue(since) is { } text && (from = DurationText.ParseSince(text, DateTimeOffset.UtcNow, "--since", out error)) is null)
            {
                return OperationCommand.Usage(target, error!);
            }

            OperationId? about = null;
            if (parse.GetValue(operation) is { } idText)
            {
                if (!OperationId.TryParse(idText, out var id, out error))
                {
                    return OperationCommand.Usage(target, $"--operation: {error}");
                }

                about = id;
            }

            if (parse.GetValue(limit) is < 1 or > 10000)
            {
                return OperationCommand.Usage(target, $"--limit must be 1 to 10000, not {parse.GetValue(limit)}");
            }

            return ClusterConnection.RunAdminAsync(target, admin => ListAsync(admin, from, about, parse.GetValue(limit), stdout, parse.GetValue(output), ct));
        });
        audit.Subcommands.Add(list);
        return audit;
    }

    public static async Task<int> ListAsync(KvAdminClient admin, DateTimeOffset? since, OperationId? operation, int limit, TextWriter stdout, OutputFormat format, CancellationToken ct)
    {
        var entries = await admin.ListAuditAsync(since, limit, operation, ct);
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteView(stdout, format, new ListView<AuditEntryView>("AuditList", entries));
            return ExitCodes.Ok;
        }

        if (entries.Count == 0)
        {
            stdout.WriteLine("no audit entries");
            return ExitCodes.Ok;
        }

        OutputWriter.WriteTable(stdout, ["SEQ", "AT", "WHO", "ACTION", "OPERATION", "WHAT", "EPOCH BEFORE->AFTER", "REASON", "OUTCOME"],
            entries.Select(e => (IReadOnlyList<string>)
            [
                e.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), e.At is { } at ? OperationText.Time(at) : "-", e.Who,
                e.Action.ToString(), e.OperationId?.Value ?? "-", e.What,
                e.EpochBefore is null && e.EpochAfter is null ? "-" : $"{e.EpochBefore?.ToString() ?? "-"}->{e.EpochAfter?.ToString() ?? "-"}",
                e.Reason ?? "-", e.Outcome ?? "-",
            ]).ToList());
        return ExitCodes.Ok;
    }
}
