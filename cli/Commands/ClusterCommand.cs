using System.CommandLine;
using System.Globalization;
using Kv.Cli.Output;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Views;
using Kv.Proto.V1;

namespace Kv.Cli.Commands;

/// <summary>
/// <c>kvctl cluster status</c>, <c>kvctl cluster settings [set]</c> and <c>kvctl cluster bootstrap</c>. Bootstrap exits 0 when this
/// call bootstrapped the cluster and 1 with "already bootstrapped (cluster id X)" when it was
/// bootstrapped before (nothing changes; scripts that only want "bootstrapped" may accept both).
/// </summary>
internal static class ClusterCommand
{
    internal sealed record MemberDocument(ulong Id, string Address);

    internal sealed record PlacementDocument(MemberDocument? Leader, IReadOnlyList<MemberDocument> Members);

    internal sealed record CountDocument(uint Up, uint Total);

    /// <summary>The JSON/YAML document of <c>cluster status</c>; field names are a contract (apiVersion bumps on change).</summary>
    internal sealed record ClusterStatusDocument(
        string ApiVersion, string Kind, string? ClusterId, bool Bootstrapped, string? BootstrappedAt,
        PlacementDocument Placement, CountDocument Stores, uint Ranges, uint? ReplicationFactor = null);

    internal sealed record BootstrapDocument(string ApiVersion, string Kind, string ClusterId, bool AlreadyBootstrapped, ulong? FirstRangeId);

    public static Command Build(TextWriter stdout)
    {
        var cluster = new Command("cluster", "The cluster as a whole: status, bootstrap");

        var status = new Command("status", "Show the cluster id, placement members and leader, stores and ranges");
        var output = OutputWriter.CreateOption();
        status.Options.Add(output);
        var statusConnection = ClusterConnection.AddTo(status);
        status.SetAction((parse, ct) => ClusterConnection.RunBothAsync(statusConnection.Read(parse),
            (client, admin) => StatusAsync(client, admin, stdout, parse.GetValue(output), ct)));
        cluster.Subcommands.Add(status);
        cluster.Subcommands.Add(BuildSettings(stdout));

        var bootstrap = new Command("bootstrap", "Bootstrap a new cluster once: pick its id and create the first range");
        var bootstrapOutput = OutputWriter.CreateOption();
        bootstrap.Options.Add(bootstrapOutput);
        var bootstrapConnection = ClusterConnection.AddTo(bootstrap);
        bootstrap.SetAction((parse, ct) =>
        {
            var target = bootstrapConnection.Read(parse);
            return ClusterConnection.RunAsync(target, client => BootstrapAsync(client, stdout, target.Stderr, parse.GetValue(bootstrapOutput), ct));
        });
        cluster.Subcommands.Add(bootstrap);
        return cluster;
    }

    /// <summary>
    /// <c>cluster settings</c> shows the cluster-wide settings; <c>cluster settings set
    /// --replication-factor N</c> changes them (--reason audited, --dry-run changes nothing).
    /// </summary>
    private static Command BuildSettings(TextWriter stdout)
    {
        var settings = new Command("settings", "Show the cluster-wide settings (replication factor, scheduler paused, last change)");
        var output = OutputWriter.CreateOption();
        settings.Options.Add(output);
        var connection = ClusterConnection.AddTo(settings);
        settings.SetAction((parse, ct) => ClusterConnection.RunAdminAsync(connection.Read(parse), async admin =>
        {
            WriteSettings(stdout, parse.GetValue(output), await admin.GetSettingsAsync(ct));
            return ExitCodes.Ok;
        }));

        var set = new Command("set", "Change cluster-wide settings; the scheduler then keeps them (for example adds or removes replicas)");
        var factor = new Option<int?>("--replication-factor") { Description = "Replicas per range, 1 to 7 (default 3)" };
        var reason = new Option<string?>("--reason") { Description = "Why (recorded in the audit log)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the settings now and what would change; change nothing" };
        var setOutput = OutputWriter.CreateOption();
        set.Options.Add(factor);
        set.Options.Add(reason);
        set.Options.Add(dryRun);
        set.Options.Add(setOutput);
        var setConnection = ClusterConnection.AddTo(set);
        set.SetAction((parse, ct) =>
        {
            var target = setConnection.Read(parse);
            var rf = parse.GetValue(factor);
            if (rf is null)
            {
                return OperationCommand.Usage(target, "nothing to set: give --replication-factor N (1 to 7)");
            }

            if (rf is < 1 or > 7)
            {
                return OperationCommand.Usage(target, $"--replication-factor must be 1 to 7, not {rf}");
            }

            return ClusterConnection.RunAdminAsync(target, async admin =>
            {
                if (parse.GetValue(dryRun))
                {
                    var now = await admin.GetSettingsAsync(ct);
                    stdout.WriteLine($"dry run: replication factor {now.ReplicationFactor} -> {rf}; nothing was changed");
                    return ExitCodes.Ok;
                }

                WriteSettings(stdout, parse.GetValue(setOutput), await admin.UpdateSettingsAsync((uint)rf.Value, parse.GetValue(reason), ct));
                return ExitCodes.Ok;
            });
        });
        settings.Subcommands.Add(set);
        return settings;
    }

    private static void WriteSettings(TextWriter stdout, OutputFormat format, ClusterSettingsView view)
    {
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteView(stdout, format, view);
            return;
        }

        OutputWriter.WriteTable(stdout, ["FIELD", "VALUE"],
        [
            ["replication factor", view.ReplicationFactor.ToString(CultureInfo.InvariantCulture)],
            ["scheduler", view.SchedulerPaused ? "paused" : "running"],
            ["last change", view.Updated is { } at ? $"{OperationText.Time(at)} by {view.UpdatedBy ?? "unknown"}{(view.Reason is { } r ? $" ({r})" : string.Empty)}" : "never"],
        ]);
    }

    /// <summary>
    /// The status; the replication factor comes from the admin API and shows as unknown when that
    /// cannot answer (a node of an older version), since the rest of the status still holds.
    /// </summary>
    public static async Task<int> StatusAsync(KvClient client, KvAdminClient? admin, TextWriter stdout, OutputFormat format, CancellationToken ct)
    {
        GetClusterInfoResponse info;
        try
        {
            info = await client.GetClusterInfoAsync(ct);
        }
        catch (KvException e) when (e.Kind == KvErrorKind.NotBootstrapped)
        {
            // Not an error for a status command: say so.
            info = new GetClusterInfoResponse { Bootstrapped = false };
        }

        uint? replicationFactor = null;
        if (admin is not null && info.Bootstrapped)
        {
            try
            {
                replicationFactor = (await admin.GetSettingsAsync(ct)).ReplicationFactor;
            }
            catch (KvException)
            {
                // unknown: shown as such
            }
        }

        WriteStatus(stdout, format, info, client.ClusterId, replicationFactor);
        return ExitCodes.Ok;
    }

    public static void WriteStatus(TextWriter stdout, OutputFormat format, GetClusterInfoResponse info, string? knownClusterId, uint? replicationFactor = null)
    {
        var clusterId = info.Header?.ClusterId is { Length: > 0 } id ? id : knownClusterId;
        var members = info.Members.Select(m => new MemberDocument(m.MemberId, m.Address)).ToList();
        var leader = info.Leader is { MemberId: not 0 } l ? new MemberDocument(l.MemberId, l.Address) : null;
        var doc = new ClusterStatusDocument(
            "kvctl/v1", "ClusterStatus", clusterId, info.Bootstrapped,
            info.BootstrappedAtMs > 0 ? Time(info.BootstrappedAtMs) : null,
            new PlacementDocument(leader, members), new CountDocument(info.StoresUp, info.StoreCount), info.RangeCount, replicationFactor);
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteDocument(stdout, format, doc);
            return;
        }

        OutputWriter.WriteTable(stdout, ["FIELD", "VALUE"],
        [
            ["cluster id", doc.ClusterId ?? "-"],
            ["bootstrapped", doc.Bootstrapped ? $"yes ({doc.BootstrappedAt ?? "time unknown"})" : "no (run `kvctl cluster bootstrap`)"],
            ["placement leader", leader is null ? "none known" : $"{leader.Id} ({leader.Address})"],
            ["placement members", members.Count == 0 ? "-" : string.Join(", ", members.Select(m => $"{m.Id} ({m.Address})"))],
            ["stores up", $"{info.StoresUp}/{info.StoreCount}"],
            ["ranges", info.RangeCount.ToString(CultureInfo.InvariantCulture)],
            ["replication factor", replicationFactor?.ToString(CultureInfo.InvariantCulture) ?? "unknown"],
        ]);
    }

    public static async Task<int> BootstrapAsync(KvClient client, TextWriter stdout, TextWriter stderr, OutputFormat format, CancellationToken ct)
    {
        var result = await client.BootstrapAsync(ct);
        if (result.AlreadyBootstrapped)
        {
            stderr.WriteLine($"error: already bootstrapped (cluster id {result.ClusterId}); nothing changed");
            return ExitCodes.Failed;
        }

        if (format == OutputFormat.Table)
        {
            stdout.WriteLine($"bootstrapped cluster {result.ClusterId} (first range {result.FirstRange?.RangeId.ToString(CultureInfo.InvariantCulture) ?? "?"})");
        }
        else
        {
            OutputWriter.WriteDocument(stdout, format, new BootstrapDocument("kvctl/v1", "Bootstrap", result.ClusterId, false, result.FirstRange?.RangeId));
        }

        return ExitCodes.Ok;
    }

    /// <summary>Unix ms as an ISO 8601 UTC time.</summary>
    internal static string Time(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
