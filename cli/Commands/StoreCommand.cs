using System.CommandLine;
using System.Globalization;
using Kv.Cli.Output;
using Kv.Client.Cluster;
using Kv.Proto.V1;

namespace Kv.Cli.Commands;

/// <summary><c>kvctl store list</c>: every store placement knows, with its liveness and load.</summary>
internal static class StoreCommand
{
    internal sealed record StoreDocument(
        ulong Id, string Address, string State, uint Ranges, uint Leaders,
        ulong UsedBytes, ulong CapacityBytes, ulong AvailableBytes, string? LastHeartbeat, string? Version);

    /// <summary>The JSON/YAML document of <c>store list</c>; field names are a contract.</summary>
    internal sealed record StoreListDocument(string ApiVersion, string Kind, IReadOnlyList<StoreDocument> Items);

    public static Command Build(TextWriter stdout)
    {
        var store = new Command("store", "Stores: one RocksDB instance per node");
        var list = new Command("list", "List the stores with state, ranges, leaders, usage and last heartbeat");
        var output = OutputWriter.CreateOption();
        list.Options.Add(output);
        var connection = ClusterConnection.AddTo(list);
        list.SetAction((parse, ct) => ClusterConnection.RunAsync(connection.Read(parse),
            client => ListAsync(client, stdout, parse.GetValue(output), ct)));
        store.Subcommands.Add(list);
        return store;
    }

    public static async Task<int> ListAsync(KvClient client, TextWriter stdout, OutputFormat format, CancellationToken ct)
    {
        WriteList(stdout, format, await client.ListStoresAsync(ct));
        return ExitCodes.Ok;
    }

    public static void WriteList(TextWriter stdout, OutputFormat format, IReadOnlyList<StoreInfo> stores)
    {
        var items = stores.OrderBy(s => s.Store?.StoreId ?? 0).Select(ToDocument).ToList();
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteDocument(stdout, format, new StoreListDocument("kvctl/v1", "StoreList", items));
            return;
        }

        OutputWriter.WriteTable(stdout, ["ID", "ADDRESS", "STATE", "RANGES", "LEADERS", "USED/CAPACITY", "LAST HEARTBEAT"],
            items.Select(s => (IReadOnlyList<string>)
            [
                s.Id.ToString(CultureInfo.InvariantCulture), s.Address, s.State,
                s.Ranges.ToString(CultureInfo.InvariantCulture), s.Leaders.ToString(CultureInfo.InvariantCulture),
                $"{Size(s.UsedBytes)}/{Size(s.CapacityBytes)}", s.LastHeartbeat ?? "never",
            ]).ToList());
    }

    internal static StoreDocument ToDocument(StoreInfo info)
    {
        var stats = info.Stats ?? new StoreStats();
        return new StoreDocument(
            info.Store?.StoreId ?? 0, info.Store?.Address ?? string.Empty, State(info.State),
            stats.RangeCount, stats.LeaderCount, stats.UsedBytes, stats.CapacityBytes, stats.AvailableBytes,
            info.LastHeartbeatMs > 0 ? ClusterCommand.Time(info.LastHeartbeatMs) : null,
            info.Store?.Version is { Length: > 0 } v ? v : null);
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
