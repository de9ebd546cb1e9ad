using System.CommandLine;
using System.Globalization;
using Kv.Cli.Output;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Views;
using Kv.Proto.V1;

namespace Kv.Cli.Commands;

/// <summary><c>kvctl range list</c> and <c>kvctl range show ID</c> (placement's range directory), <c>kvctl range transfer-leader</c> and <c>kvctl range split</c> (both submit operations).</summary>
internal static class RangeCommand
{
    internal sealed record EpochDocument(ulong ConfVer, ulong Version);

    internal sealed record ReplicaDocument(ulong ReplicaId, ulong StoreId, string Role);

    internal sealed record LeaderDocument(ulong ReplicaId, ulong StoreId, string? Address);

    /// <summary>One range; keys are printable UTF-8 or 0x-hex (KeyText); an empty end key means the end of the key space.</summary>
    internal sealed record RangeDocument(
        ulong Id, string StartKey, string EndKey, EpochDocument Epoch, IReadOnlyList<ReplicaDocument> Replicas,
        LeaderDocument? Leader, ulong ApproximateSizeBytes);

    internal sealed record RangeListDocument(string ApiVersion, string Kind, IReadOnlyList<RangeDocument> Items);

    internal sealed record RangeShowDocument(string ApiVersion, string Kind, RangeDocument Range);

    public static Command Build(TextWriter stdout)
    {
        var range = new Command("range", "Ranges: contiguous slices of the key space, each a Raft group");

        var list = new Command("list", "List the ranges: id, start, end, epoch, replicas, leader");
        var listOutput = OutputWriter.CreateOption();
        list.Options.Add(listOutput);
        var listConnection = ClusterConnection.AddTo(list);
        list.SetAction((parse, ct) => ClusterConnection.RunAsync(listConnection.Read(parse),
            client => ListAsync(client, stdout, parse.GetValue(listOutput), ct)));
        range.Subcommands.Add(list);

        var show = new Command("show", "Show one range in detail");
        var id = new Argument<ulong>("id") { Description = "The range id (see `kvctl range list`)" };
        show.Arguments.Add(id);
        var showOutput = OutputWriter.CreateOption();
        show.Options.Add(showOutput);
        var showConnection = ClusterConnection.AddTo(show);
        show.SetAction((parse, ct) =>
        {
            var target = showConnection.Read(parse);
            return ClusterConnection.RunAsync(target, client => ShowAsync(client, parse.GetValue(id), stdout, target.Stderr, parse.GetValue(showOutput), ct));
        });
        range.Subcommands.Add(show);

        var transfer = new Command("transfer-leader", "Move a range's leadership to its voter on another store (an operation); waits until that store leads");
        var rangeOption = new Option<ulong>("--range") { Description = "The range id (see `kvctl range list`)", Required = true };
        var storeOption = new Option<ulong>("--store") { Description = "The store that should lead (it must hold a voter of the range)", Required = true };
        transfer.Options.Add(rangeOption);
        transfer.Options.Add(storeOption);
        ReplicaCommand.Submit(transfer, stdout,
            parse => OperationRequest.TransferLeader(new RangeId(parse.GetValue(rangeOption)), new StoreId(parse.GetValue(storeOption))),
            parse => ReplicaCommand.Ids(parse.GetValue(rangeOption), ("--store", parse.GetValue(storeOption))));
        range.Subcommands.Add(transfer);

        var split = new Command("split", "Split a range in two at a key (an operation): the range holding KEY (or --range ID) keeps [start, KEY), a new range takes [KEY, end)");
        var splitKey = new Option<string>("--key") { Description = "The first key of the new right-hand range; it must lie strictly inside the range", Required = true };
        var splitRange = new Option<ulong>("--range") { Description = "The range to split (default: the one holding --key, fenced on the epoch read)" };
        var splitHex = new Option<bool>("--hex") { Description = "--key is hex (for example 0x6b31) instead of UTF-8 text" };
        var splitOutput = OutputWriter.CreateOption();
        split.Options.Add(splitKey);
        split.Options.Add(splitRange);
        split.Options.Add(splitHex);
        var splitFlags = OperationFlags.AddTo(split);
        split.Options.Add(splitOutput);
        var splitConnection = ClusterConnection.AddTo(split);
        split.SetAction((parse, ct) =>
        {
            var target = splitConnection.Read(parse);
            var key = KeyText.Parse(parse.GetValue(splitKey)!, parse.GetValue(splitHex), "--key", out var error);
            if (key is null || key.Length == 0)
            {
                target.Stderr.WriteLine($"error: {error ?? "--key must not be empty: give the first key of the new right-hand range"}");
                return Task.FromResult(ExitCodes.Usage);
            }

            var flags = splitFlags.Read(parse);
            if (flags.Problem() is { } problem)
            {
                return OperationCommand.Usage(target, problem);
            }

            return ClusterConnection.RunBothAsync(target, (client, admin) =>
                SplitAsync(client, admin, parse.GetValue(splitRange), key, flags, stdout, target.Stderr, parse.GetValue(splitOutput), ct));
        });
        range.Subcommands.Add(split);
        return range;
    }

    /// <summary>
    /// Submits a split of range rangeId (0: the range holding key, found in placement's directory
    /// and fenced on the epoch read there, so a range that changed meanwhile refuses the plan).
    /// </summary>
    public static async Task<int> SplitAsync(
        KvClient client, KvAdminClient admin, ulong rangeId, byte[] key, OperationFlags.Values flags, TextWriter stdout, TextWriter stderr, OutputFormat format, CancellationToken ct)
    {
        EpochView? epoch = null;
        if (rangeId == 0)
        {
            var holding = (await client.ListRangesAsync(ct)).Select(r => r.Range).FirstOrDefault(r => r is not null && Holds(r, key));
            if (holding is null)
            {
                stderr.WriteLine($"error: no range holds key {KeyText.Printable(key)}; `kvctl range list` shows the ranges");
                return ExitCodes.NotFound;
            }

            rangeId = holding.RangeId;
            epoch = EpochView.From(holding.Epoch);
        }

        return await OperationRunner.RunAsync(admin, OperationRequest.Split(new RangeId(rangeId), key) with { Epoch = epoch }, flags, stdout, stderr, format, ct);
    }

    private static bool Holds(RangeDescriptor range, byte[] key) =>
        range.StartKey.Span.SequenceCompareTo(key) <= 0 && (range.EndKey.IsEmpty || ((ReadOnlySpan<byte>)key).SequenceCompareTo(range.EndKey.Span) < 0);

    public static async Task<int> ListAsync(KvClient client, TextWriter stdout, OutputFormat format, CancellationToken ct)
    {
        WriteList(stdout, format, await client.ListRangesAsync(ct));
        return ExitCodes.Ok;
    }

    public static async Task<int> ShowAsync(KvClient client, ulong rangeId, TextWriter stdout, TextWriter stderr, OutputFormat format, CancellationToken ct)
    {
        var info = await client.GetRangeAsync(rangeId, ct);
        if (info?.Range is null)
        {
            stderr.WriteLine($"error: range {rangeId} not found; `kvctl range list` shows the ranges that exist");
            return ExitCodes.NotFound;
        }

        WriteShow(stdout, format, info);
        return ExitCodes.Ok;
    }

    public static void WriteList(TextWriter stdout, OutputFormat format, IReadOnlyList<RangeInfo> ranges)
    {
        var items = ranges.Where(r => r.Range is not null).Select(ToDocument).ToList();
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteDocument(stdout, format, new RangeListDocument("kvctl/v1", "RangeList", items));
            return;
        }

        OutputWriter.WriteTable(stdout, ["ID", "START", "END", "EPOCH", "REPLICAS", "LEADER"],
            items.Select(r => (IReadOnlyList<string>)
            [
                r.Id.ToString(CultureInfo.InvariantCulture), StartText(r.StartKey), EndText(r.EndKey), EpochText(r.Epoch),
                string.Join(",", r.Replicas.Select(ReplicaText)), LeaderText(r.Leader),
            ]).ToList());
    }

    public static void WriteShow(TextWriter stdout, OutputFormat format, RangeInfo info)
    {
        var r = ToDocument(info);
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteDocument(stdout, format, new RangeShowDocument("kvctl/v1", "Range", r));
            return;
        }

        OutputWriter.WriteTable(stdout, ["FIELD", "VALUE"],
        [
            ["id", r.Id.ToString(CultureInfo.InvariantCulture)],
            ["start", StartText(r.StartKey)],
            ["end", EndText(r.EndKey)],
            ["epoch", EpochText(r.Epoch)],
            ["leader", LeaderText(r.Leader)],
            ["replicas", string.Join(", ", r.Replicas.Select(x => $"{x.ReplicaId} on store {x.StoreId} ({x.Role})"))],
            ["approximate size", StoreCommand.Size(r.ApproximateSizeBytes)],
        ]);
    }

    internal static RangeDocument ToDocument(RangeInfo info)
    {
        var d = info.Range;
        var leader = info.Leader is { ReplicaId: not 0 } or { StoreId: not 0 }
            ? new LeaderDocument(info.Leader.ReplicaId, info.Leader.StoreId, info.LeaderAddress.Length > 0 ? info.LeaderAddress : null)
            : null;
        return new RangeDocument(
            d.RangeId, KeyText.Printable(d.StartKey), KeyText.Printable(d.EndKey),
            new EpochDocument(d.Epoch?.ConfVer ?? 0, d.Epoch?.Version ?? 0),
            d.Replicas.Select(x => new ReplicaDocument(x.ReplicaId, x.StoreId, x.Role == ReplicaRole.Learner ? "learner" : "voter")).ToList(),
            leader, info.ApproximateSizeBytes);
    }

    private static string StartText(string key) => key.Length == 0 ? "(start)" : key;

    private static string EndText(string key) => key.Length == 0 ? "(end)" : key;

    private static string EpochText(EpochDocument e) => string.Create(CultureInfo.InvariantCulture, $"v{e.Version}/c{e.ConfVer}");

    private static string ReplicaText(ReplicaDocument r) =>
        string.Create(CultureInfo.InvariantCulture, $"{r.ReplicaId}@s{r.StoreId}{(r.Role == "learner" ? "(L)" : string.Empty)}");

    private static string LeaderText(LeaderDocument? l) =>
        l is null ? "unknown" : string.Create(CultureInfo.InvariantCulture, $"{l.ReplicaId}@s{l.StoreId}{(l.Address is null ? string.Empty : $" ({l.Address})")}");
}
