using System.CommandLine;
using System.Globalization;
using Kv.Cli.Output;
using Kv.Client.Cluster;
using Kv.Proto.V1;

namespace Kv.Cli.Commands;

/// <summary>
/// <c>kvctl cluster status</c> and <c>kvctl cluster bootstrap</c>. Bootstrap exits 0 when this
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
        PlacementDocument Placement, CountDocument Stores, uint Ranges);

    internal sealed record BootstrapDocument(string ApiVersion, string Kind, string ClusterId, bool AlreadyBootstrapped, ulong? FirstRangeId);

    public static Command Build(TextWriter stdout)
    {
        var cluster = new Command("cluster", "The cluster as a whole: status, bootstrap");

        var status = new Command("status", "Show the cluster id, placement members and leader, stores and ranges");
        var output = OutputWriter.CreateOption();
        status.Options.Add(output);
        var statusConnection = ClusterConnection.AddTo(status);
        status.SetAction((parse, ct) => ClusterConnection.RunAsync(statusConnection.Read(parse),
            client => StatusAsync(client, stdout, parse.GetValue(output), ct)));
        cluster.Subcommands.Add(status);

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

    public static async Task<int> StatusAsync(KvClient client, TextWriter stdout, OutputFormat format, CancellationToken ct)
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

        WriteStatus(stdout, format, info, client.ClusterId);
        return ExitCodes.Ok;
    }

    public static void WriteStatus(TextWriter stdout, OutputFormat format, GetClusterInfoResponse info, string? knownClusterId)
    {
        var clusterId = info.Header?.ClusterId is { Length: > 0 } id ? id : knownClusterId;
        var members = info.Members.Select(m => new MemberDocument(m.MemberId, m.Address)).ToList();
        var leader = info.Leader is { MemberId: not 0 } l ? new MemberDocument(l.MemberId, l.Address) : null;
        var doc = new ClusterStatusDocument(
            "kvctl/v1", "ClusterStatus", clusterId, info.Bootstrapped,
            info.BootstrappedAtMs > 0 ? Time(info.BootstrappedAtMs) : null,
            new PlacementDocument(leader, members), new CountDocument(info.StoresUp, info.StoreCount), info.RangeCount);
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
