using System.CommandLine;
using System.Globalization;
using Kv.Cli.Output;
using Kv.Client;
using Kv.Client.Views;

namespace Kv.Cli.Commands;

/// <summary>
/// <c>kvctl gc status|set-safe-point|why</c> and <c>kvctl gc service list|set|remove</c>: the GC
/// safe point (versions not visible at it may be dropped; reads below it are refused) and the
/// service safe points that hold it back. Timestamps are TSO timestamps (the packed number) and are
/// shown with their wall time.
/// </summary>
internal static class GcCommand
{
    public static Command Build(TextWriter stdout)
    {
        var gc = new Command("gc", "The GC safe point and service safe points: status, set-safe-point, why, service");

        var status = new Command("status", "Show the GC safe point (timestamp and wall time), the candidate, the last and next round, and service safe points");
        var statusOutput = OutputWriter.CreateOption();
        status.Options.Add(statusOutput);
        var statusConnection = ClusterConnection.AddTo(status);
        status.SetAction((parse, ct) => ClusterConnection.RunAdminAsync(statusConnection.Read(parse), async admin =>
        {
            WriteStatus(stdout, parse.GetValue(statusOutput), await admin.GetGcStatusAsync(ct));
            return ExitCodes.Ok;
        }));
        gc.Subcommands.Add(status);

        gc.Subcommands.Add(SetSafePoint(stdout));

        var why = new Command("why", "Rank what holds the GC safe point back: service safe points (owner, TTL, last renewal), old locks, the life time");
        var whyOutput = OutputWriter.CreateOption();
        why.Options.Add(whyOutput);
        var whyConnection = ClusterConnection.AddTo(why);
        why.SetAction((parse, ct) => ClusterConnection.RunAdminAsync(whyConnection.Read(parse), async admin =>
        {
            WriteWhy(stdout, parse.GetValue(whyOutput), await admin.ExplainGcSafePointAsync(ct));
            return ExitCodes.Ok;
        }));
        gc.Subcommands.Add(why);

        gc.Subcommands.Add(Service(stdout));
        return gc;
    }

    private static Command SetSafePoint(TextWriter stdout)
    {
        var command = new Command("set-safe-point", "Move the GC safe point up (it never moves back, and never passes now or a live service safe point)");
        var at = new Argument<string>("at") { Description = "A TSO timestamp (number), an ISO 8601 time (2026-12-05T19:00:00Z) or a duration ago (30m, 1h)" };
        var reason = new Option<string?>("--reason") { Description = "Why (recorded in the audit log)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the current safe point and what would change; change nothing" };
        var output = OutputWriter.CreateOption();
        command.Arguments.Add(at);
        command.Options.Add(reason);
        command.Options.Add(dryRun);
        command.Options.Add(output);
        var connection = ClusterConnection.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            var target = connection.Read(parse);
            if (ParseTimestamp(parse.GetValue(at), DateTimeOffset.UtcNow, out var error) is not { } safePoint)
            {
                return OperationCommand.Usage(target, error!);
            }

            return ClusterConnection.RunAdminAsync(target, async admin =>
            {
                if (parse.GetValue(dryRun))
                {
                    var now = await admin.GetGcStatusAsync(ct);
                    stdout.WriteLine($"dry run: the GC safe point is {Show(now.SafePoint)}; would move it to {Show(safePoint)}" +
                        (safePoint < now.SafePoint ? " (refused: it never moves back)" : safePoint > now.Now ? " (refused: above the TSO's now)" : string.Empty) +
                        "; nothing was changed");
                    return ExitCodes.Ok;
                }

                WriteStatus(stdout, parse.GetValue(output), await admin.SetGcSafePointAsync(safePoint, parse.GetValue(reason), ct));
                return ExitCodes.Ok;
            });
        });
        return command;
    }

    private static Command Service(TextWriter stdout)
    {
        var service = new Command("service", "Service safe points: a running backup or changefeed pins the versions it reads until its TTL runs out");

        var list = new Command("list", "List service safe points with owner, timestamp, TTL, last renewal and whether each is live");
        var listOutput = OutputWriter.CreateOption();
        list.Options.Add(listOutput);
        var listConnection = ClusterConnection.AddTo(list);
        list.SetAction((parse, ct) => ClusterConnection.RunAdminAsync(listConnection.Read(parse), async admin =>
        {
            WriteServices(stdout, parse.GetValue(listOutput), (await admin.GetGcStatusAsync(ct)).ServiceSafePoints);
            return ExitCodes.Ok;
        }));
        service.Subcommands.Add(list);

        var set = new Command("set", "Create or renew a service safe point (owned by you); renew it within its TTL while the service runs");
        var name = new Argument<string>("name") { Description = "The service's name: letters, digits, '.', '_', '-'" };
        var ts = new Option<string>("--ts") { Description = "The timestamp to keep readable: a TSO timestamp, an ISO 8601 time or a duration ago", Required = true };
        var ttl = new Option<string>("--ttl") { Description = "How long it pins without a renewal (10m, 1h)", DefaultValueFactory = _ => "10m" };
        var setDryRun = new Option<bool>("--dry-run") { Description = "Show what would be set; change nothing" };
        var setOutput = OutputWriter.CreateOption();
        set.Arguments.Add(name);
        set.Options.Add(ts);
        set.Options.Add(ttl);
        set.Options.Add(setDryRun);
        set.Options.Add(setOutput);
        var setConnection = ClusterConnection.AddTo(set);
        set.SetAction((parse, ct) =>
        {
            var target = setConnection.Read(parse);
            if (ParseTimestamp(parse.GetValue(ts), DateTimeOffset.UtcNow, out var error) is not { } at)
            {
                return OperationCommand.Usage(target, $"--ts: {error}");
            }

            if (DurationText.Parse(parse.GetValue(ttl), "--ttl", out error) is not { } life || life <= TimeSpan.Zero)
            {
                return OperationCommand.Usage(target, error ?? "--ttl must be above zero");
            }

            if (parse.GetValue(setDryRun))
            {
                stdout.WriteLine($"dry run: would set service safe point '{parse.GetValue(name)}' at {Show(at)} for {DurationText.Format(life)}; nothing was changed");
                return Task.FromResult(ExitCodes.Ok);
            }

            return ClusterConnection.RunAdminAsync(target, async admin =>
            {
                WriteServices(stdout, parse.GetValue(setOutput), [await admin.SetServiceSafePointAsync(parse.GetValue(name)!, at, life, ct)]);
                return ExitCodes.Ok;
            });
        });
        service.Subcommands.Add(set);

        var remove = new Command("remove", "Remove a service safe point; another owner's needs --force and --reason (audited)");
        var removeName = new Argument<string>("name") { Description = "The service safe point's name" };
        var force = new Option<bool>("--force") { Description = "Remove another owner's (GC may then drop versions that service still reads)" };
        var reason = new Option<string?>("--reason") { Description = "Why (required with --force; recorded in the audit log)" };
        var removeDryRun = new Option<bool>("--dry-run") { Description = "Show what would be removed; change nothing" };
        remove.Arguments.Add(removeName);
        remove.Options.Add(force);
        remove.Options.Add(reason);
        remove.Options.Add(removeDryRun);
        var removeConnection = ClusterConnection.AddTo(remove);
        remove.SetAction((parse, ct) =>
        {
            var target = removeConnection.Read(parse);
            if (parse.GetValue(force) && string.IsNullOrWhiteSpace(parse.GetValue(reason)))
            {
                return OperationCommand.Usage(target, "--force needs --reason: removing another owner's service safe point is audited");
            }

            return ClusterConnection.RunAdminAsync(target, async admin =>
            {
                string n = parse.GetValue(removeName)!;
                if (parse.GetValue(removeDryRun))
                {
                    var found = (await admin.GetGcStatusAsync(ct)).ServiceSafePoints.FirstOrDefault(s => s.Name == n);
                    stdout.WriteLine(found is null
                        ? $"dry run: service safe point '{n}' does not exist; nothing was changed"
                        : $"dry run: would remove service safe point '{n}' (owner {found.Owner}, ts {Show(found.Ts)}); nothing was changed");
                    return ExitCodes.Ok;
                }

                await admin.RemoveServiceSafePointAsync(n, parse.GetValue(force), parse.GetValue(reason), ct);
                stdout.WriteLine($"service safe point '{n}' removed");
                return ExitCodes.Ok;
            });
        });
        service.Subcommands.Add(remove);
        return service;
    }

    /// <summary>
    /// A timestamp from the command line: a TSO timestamp (a number), an ISO 8601 time or a duration
    /// before <paramref name="now"/> (both at logical 0); null with what is wrong.
    /// </summary>
    internal static Timestamp? ParseTimestamp(string? text, DateTimeOffset now, out string? error)
    {
        error = null;
        var trimmed = text?.Trim() ?? string.Empty;
        if (ulong.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            if (value == 0)
            {
                error = "timestamp 0 is no timestamp: give one (`kvctl gc status` shows the safe point and now)";
                return null;
            }

            return new Timestamp(value);
        }

        if (DurationText.ParseSince(trimmed, now, "the timestamp", out error) is not { } at)
        {
            error = $"'{text}' is not a TSO timestamp (a number), an ISO 8601 time (2026-12-05T19:00:00Z) or a duration ago (30m, 1h)";
            return null;
        }

        if (at.ToUnixTimeMilliseconds() <= 0)
        {
            error = $"'{text}' is before 1970";
            return null;
        }

        return Timestamp.Compose(at.ToUnixTimeMilliseconds(), 0);
    }

    /// <summary>A timestamp as "number (wall time)"; "none" for 0.</summary>
    internal static string Show(Timestamp ts) =>
        ts == Timestamp.Zero ? "none" : $"{ts.Value.ToString(CultureInfo.InvariantCulture)} ({OperationText.Time(DateTimeOffset.FromUnixTimeMilliseconds(ts.PhysicalMs))})";

    internal static void WriteStatus(TextWriter stdout, OutputFormat format, GcStatusView view)
    {
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteView(stdout, format, view);
            return;
        }

        OutputWriter.WriteTable(stdout, ["FIELD", "VALUE"],
        [
            ["safe point", Show(view.SafePoint)],
            ["set by", view.UpdatedBy is { } by ? $"{by}{(view.Updated is { } u ? $" at {OperationText.Time(u)}" : string.Empty)}{(view.Reason is { } r ? $" ({r})" : string.Empty)}" : "-"],
            ["now", Show(view.Now)],
            ["candidate", view.Candidate > view.SafePoint ? Show(view.Candidate) : $"{Show(view.Candidate)} (held back: `kvctl gc why`)"],
            ["life time", DurationText.Format(view.LifeTime)],
            ["last round", view.LastRound is { } last ? OperationText.Time(last) : "none"],
            ["next round", view.NextRound is { } next ? OperationText.Time(next) : "none scheduled"],
            ["service safe points", $"{view.ServiceSafePoints.Count(s => s.Live)} live, {view.ServiceSafePoints.Count(s => !s.Live)} expired"],
        ]);
    }

    internal static void WriteServices(TextWriter stdout, OutputFormat format, IReadOnlyList<ServiceSafePointView> services)
    {
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteView(stdout, format, new ListView<ServiceSafePointView>("ServiceSafePointList", services));
            return;
        }

        if (services.Count == 0)
        {
            stdout.WriteLine("no service safe points");
            return;
        }

        OutputWriter.WriteTable(stdout, ["NAME", "OWNER", "TS", "TTL", "LAST RENEWAL", "EXPIRES", "STATE"],
            services.Select(s => (IReadOnlyList<string>)
            [
                s.Name, s.Owner, Show(s.Ts), DurationText.Format(s.Ttl), s.LastRenewal is { } l ? OperationText.Time(l) : "-",
                s.Expires is { } e ? OperationText.Time(e) : "-", s.Live ? "live" : "expired",
            ]).ToList());
    }

    internal static void WriteWhy(TextWriter stdout, OutputFormat format, GcExplanationView view)
    {
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteView(stdout, format, view);
            return;
        }

        stdout.WriteLine($"safe point {Show(view.SafePoint)}; candidate {Show(view.Candidate)}; now {Show(view.Now)}");
        stdout.WriteLine(view.Holders.Count > 0 && view.Candidate > view.SafePoint
            ? "the first row bounds the candidate; rows are ranked lowest (most holding back) first"
            : "the safe point cannot advance now: the first row holds it back; rows are ranked lowest first");
        OutputWriter.WriteTable(stdout, ["#", "HOLDER", "TS", "AGE", "OWNER", "TTL", "LAST RENEWAL", "DETAIL"],
            view.Holders.Select((h, i) => (IReadOnlyList<string>)
            [
                (i + 1).ToString(CultureInfo.InvariantCulture),
                h.Kind switch
                {
                    GcHolderKindView.ServiceSafePoint => $"service {h.ServiceSafePoint?.Name}",
                    GcHolderKindView.Lock => "lock",
                    GcHolderKindView.LifeTime => "life time",
                    _ => "unknown",
                },
                Show(h.Ts), DurationText.Format(h.Age), h.ServiceSafePoint?.Owner ?? "-",
                h.ServiceSafePoint is { } s ? DurationText.Format(s.Ttl) : "-",
                h.ServiceSafePoint?.LastRenewal is { } l ? OperationText.Time(l) : "-",
                h.Kind == GcHolderKindView.Lock ? $"primary {h.LockPrimary ?? "-"}: {h.Description}" : h.Description,
            ]).ToList());
    }
}
