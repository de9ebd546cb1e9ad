using System.CommandLine;
using System.Globalization;
using Kv.Cli.Output;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Views;
using Kv.Proto.V1;

namespace Kv.Cli.Commands;

/// <summary>
/// <c>kvctl store list</c>: every store placement knows, with its liveness and load; and the admin
/// verbs <c>store drain|undrain|remove|maintenance</c>.
/// </summary>
internal static class StoreCommand
{
    /// <summary>
    /// One store of <c>store list</c>. State is liveness (up, down); AdminState is what operators set
    /// (active, draining, drained, removed; null when placement did not say), with the drain's operation.
    /// </summary>
    internal sealed record StoreDocument(
        ulong Id, string Address, string State, uint Ranges, uint Leaders,
        ulong UsedBytes, ulong CapacityBytes, ulong AvailableBytes, string? LastHeartbeat, string? Version,
        IReadOnlyDictionary<string, string> Labels, string? AdminState = null, string? DrainOperation = null);

    /// <summary>The JSON/YAML document of <c>store list</c>; field names are a contract.</summary>
    internal sealed record StoreListDocument(string ApiVersion, string Kind, IReadOnlyList<StoreDocument> Items);

    public static Command Build(TextWriter stdout)
    {
        var store = new Command("store", "Stores: one RocksDB instance per node");
        var list = new Command("list", "List the stores with state, ranges, leaders, usage and last heartbeat");
        var output = OutputWriter.CreateOption();
        list.Options.Add(output);
        var connection = ClusterConnection.AddTo(list);
        list.SetAction((parse, ct) => ClusterConnection.RunBothAsync(connection.Read(parse),
            (client, admin) => ListAsync(client, admin, stdout, parse.GetValue(output), ct)));
        store.Subcommands.Add(list);
        AddAdminVerbs(store, stdout);
        return store;
    }

    /// <summary>
    /// <c>store drain|undrain|remove|maintenance STORE</c>. Drain is an operation (--dry-run,
    /// --no-wait, --force --reason, --id, progress); the others are single placement changes, each
    /// with --reason (audited) and --dry-run (shows the store and the change; changes nothing).
    /// </summary>
    private static void AddAdminVerbs(Command store, TextWriter stdout)
    {
        var drain = new Command("drain", "Move every replica and leader off a store (respecting labels); cancellable with `store undrain` until its last replica leaves");
        var drainStore = StoreArgument();
        var drainFlags = OperationFlags.AddTo(drain);
        var drainOutput = OutputWriter.CreateOption();
        drain.Arguments.Add(drainStore);
        drain.Options.Add(drainOutput);
        var drainConnection = ClusterConnection.AddTo(drain);
        drain.SetAction((parse, ct) =>
        {
            var target = drainConnection.Read(parse);
            var flags = drainFlags.Read(parse);
            if (CheckStore(parse.GetValue(drainStore), target) is { } refused)
            {
                return refused;
            }

            return flags.Problem() is { } problem
                ? OperationCommand.Usage(target, problem)
                : ClusterConnection.RunAdminAsync(target, admin => OperationRunner.RunAsync(admin, OperationRequest.DrainStore(new StoreId(parse.GetValue(drainStore))), flags, stdout, target.Stderr, parse.GetValue(drainOutput), ct));
        });
        store.Subcommands.Add(drain);

        var undrain = new Command("undrain", "Stop a store's drain while it still holds a replica: the drain is cancelled, the store is active again, what moved stays");
        AddChange(undrain, stdout, "undrain", (admin, id, _, reason, ct) => admin.UndrainStoreAsync(id, reason, ct));
        store.Subcommands.Add(undrain);

        var remove = new Command("remove", "Remove a drained store for good: it may never register again (a new node needs an empty data directory)");
        AddChange(remove, stdout, "remove", (admin, id, _, reason, ct) => admin.RemoveStoreAsync(id, reason, ct));
        store.Subcommands.Add(remove);

        var maintenance = new Command("maintenance", "A maintenance window: the scheduler does not replace the store's replicas while it lasts (at most 7d; --for 0s ends it)");
        var duration = new Option<string>("--for") { Description = "How long: 30m, 1h, 1h30m, 2d (at most 7d; 0s ends the window now)", Required = true };
        maintenance.Options.Add(duration);
        AddChange(maintenance, stdout, "maintenance", (admin, id, parse, reason, ct) =>
            admin.SetStoreMaintenanceAsync(id, DurationText.Parse(parse.GetValue(duration), "--for", out _)!.Value, reason, ct),
            parse =>
            {
                var d = DurationText.Parse(parse.GetValue(duration), "--for", out var error);
                return d is null ? error : d > KvAdminClient.MaxMaintenance ? $"--for {parse.GetValue(duration)} is longer than the 7 days a window may last" : null;
            });
        store.Subcommands.Add(maintenance);
    }

    private static void AddChange(
        Command command, TextWriter stdout, string verb,
        Func<KvAdminClient, StoreId, ParseResult, string?, CancellationToken, Task<StoreView>> change,
        Func<ParseResult, string?>? check = null)
    {
        var storeArgument = StoreArgument();
        var reason = new Option<string?>("--reason") { Description = "Why (recorded in the audit log)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the store and what would change; change nothing" };
        var output = OutputWriter.CreateOption();
        command.Arguments.Add(storeArgument);
        command.Options.Add(reason);
        command.Options.Add(dryRun);
        command.Options.Add(output);
        var connection = ClusterConnection.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            var target = connection.Read(parse);
            if (CheckStore(parse.GetValue(storeArgument), target) is { } refused)
            {
                return refused;
            }

            if (check?.Invoke(parse) is { } problem)
            {
                return OperationCommand.Usage(target, problem);
            }

            var id = new StoreId(parse.GetValue(storeArgument));
            return ClusterConnection.RunAdminAsync(target, async admin =>
            {
                var format = parse.GetValue(output);
                if (parse.GetValue(dryRun))
                {
                    var now = (await admin.ListStoreStatusAsync(ct)).FirstOrDefault(s => s.Id == id);
                    if (now is null)
                    {
                        target.Stderr.WriteLine($"error: store {id} not found; `kvctl store list` shows the stores that exist");
                        return ExitCodes.NotFound;
                    }

                    WriteStore(stdout, format, now, $"dry run: would {verb} store {id} (now {now.AdminState.ToString().ToLowerInvariant()}, {now.Liveness.ToString().ToLowerInvariant()}); nothing was changed");
                    return ExitCodes.Ok;
                }

                var after = await change(admin, id, parse, parse.GetValue(reason), ct);
                WriteStore(stdout, format, after, $"store {id}: {after.AdminState.ToString().ToLowerInvariant()}"
                    + (after.MaintenanceUntil is { } until ? $", in maintenance until {OperationText.Time(until)}" : string.Empty));
                return ExitCodes.Ok;
            });
        });
    }

    private static void WriteStore(TextWriter stdout, OutputFormat format, StoreView view, string line)
    {
        if (format == OutputFormat.Table)
        {
            stdout.WriteLine(line);
        }
        else
        {
            OutputWriter.WriteView(stdout, format, view);
        }
    }

    private static Argument<ulong> StoreArgument() => new("store") { Description = "The store id (see `kvctl store list`)" };

    private static Task<int>? CheckStore(ulong store, ClusterConnection.Target target) =>
        store == 0 ? OperationCommand.Usage(target, "store id 0 names no store; store ids start at 1 (see `kvctl store list`)") : null;

    public static async Task<int> ListAsync(KvClient client, KvAdminClient admin, TextWriter stdout, OutputFormat format, CancellationToken ct)
    {
        var stores = await client.ListStoresAsync(ct);
        var status = await admin.ListStoreStatusAsync(ct);
        WriteList(stdout, format, stores, status.ToDictionary(v => v.Id.Value));
        return ExitCodes.Ok;
    }

    /// <summary>Writes <c>store list</c>; admin: each store's admin state by id (placement's store status), a store missing from it shows none.</summary>
    public static void WriteList(TextWriter stdout, OutputFormat format, IReadOnlyList<StoreInfo> stores, IReadOnlyDictionary<ulong, StoreView>? admin = null)
    {
        var items = stores.OrderBy(s => s.Store?.StoreId ?? 0)
            .Select(s => admin is not null && admin.TryGetValue(s.Store?.StoreId ?? 0, out var v)
                ? ToDocument(s) with { AdminState = v.AdminState.ToString().ToLowerInvariant(), DrainOperation = v.DrainOperationId }
                : ToDocument(s))
            .ToList();
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteDocument(stdout, format, new StoreListDocument("kvctl/v1", "StoreList", items));
            return;
        }

        OutputWriter.WriteTable(stdout, ["ID", "ADDRESS", "STATE", "ADMIN", "RANGES", "LEADERS", "USED/CAPACITY", "LAST HEARTBEAT", "LABELS"],
            items.Select(s => (IReadOnlyList<string>)
            [
                s.Id.ToString(CultureInfo.InvariantCulture), s.Address, s.State,
                s.AdminState is null ? "-" : s.DrainOperation is { } op && s.AdminState == "draining" ? $"draining ({op})" : s.AdminState,
                s.Ranges.ToString(CultureInfo.InvariantCulture), s.Leaders.ToString(CultureInfo.InvariantCulture),
                $"{Size(s.UsedBytes)}/{Size(s.CapacityBytes)}", s.LastHeartbeat ?? "never",
                s.Labels.Count == 0 ? "-" : StoreLabels.Format(s.Labels),
            ]).ToList());
    }

    internal static StoreDocument ToDocument(StoreInfo info)
    {
        var stats = info.Stats ?? new StoreStats();
        return new StoreDocument(
            info.Store?.StoreId ?? 0, info.Store?.Address ?? string.Empty, State(info.State),
            stats.RangeCount, stats.LeaderCount, stats.UsedBytes, stats.CapacityBytes, stats.AvailableBytes,
            info.LastHeartbeatMs > 0 ? ClusterCommand.Time(info.LastHeartbeatMs) : null,
            info.Store?.Version is { Length: > 0 } v ? v : null,
            new SortedDictionary<string, string>(info.Store?.Labels ?? (IDictionary<string, string>)new Dictionary<string, string>(), StringComparer.Ordinal));
    }

    internal static string State(StoreState state) => state switch
    {
        StoreState.Up => "up",
        StoreState.Down => "down",
        _ => "unknown",
    };

    /// <summary>Bytes in binary units, one decimal.</summary>
    internal static string Size(ulong bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }
}
