using System.CommandLine;
using Kv.Cli.Output;
using Kv.Client.Cluster;

namespace Kv.Cli.Commands;

/// <summary>
/// <c>kvctl kv get|put|delete|scan</c>: key-value access, each verb one transaction (a snapshot
/// read at a fresh start_ts that resolves the locks it meets; a write committed through
/// Percolator two-phase commit). Keys and values are UTF-8 arguments, or hex with
/// <c>--hex</c>; output shows them as printable UTF-8 or 0x-hex (KeyText). <c>kv get</c> of a
/// missing key exits 4 with "key not found"; a write conflict exits 6, an unknown commit outcome 7.
/// </summary>
internal static class KvCommand
{
    internal sealed record PairDocument(string Key, string Value);

    /// <summary>The JSON/YAML document of <c>kv get</c>.</summary>
    internal sealed record GetDocument(string ApiVersion, string Kind, string Key, string Value);

    /// <summary>The JSON/YAML document of <c>kv scan</c>.</summary>
    internal sealed record ScanDocument(string ApiVersion, string Kind, IReadOnlyList<PairDocument> Items);

    public static Command Build(TextWriter stdout)
    {
        var kv = new Command("kv", "Key-value reads and writes, each one transaction (see also `kvctl txn run`)");
        kv.Subcommands.Add(BuildGet(stdout));
        kv.Subcommands.Add(BuildPut(stdout));
        kv.Subcommands.Add(BuildDelete(stdout));
        kv.Subcommands.Add(BuildScan(stdout));
        return kv;
    }

    public static async Task<int> GetAsync(KvClient client, byte[] key, TextWriter stdout, TextWriter stderr, OutputFormat format, CancellationToken ct)
    {
        byte[]? value;
        var txn = await client.BeginAsync(ct);
        await using (txn.ConfigureAwait(false))
        {
            value = await txn.GetAsync(key, ct);
            await txn.CommitAsync(ct);
        }

        if (value is null)
        {
            stderr.WriteLine($"error: key not found: {KeyText.Printable(key)}");
            return ExitCodes.NotFound;
        }

        if (format == OutputFormat.Table)
        {
            stdout.WriteLine(KeyText.Printable(value));
        }
        else
        {
            OutputWriter.WriteDocument(stdout, format, new GetDocument("kvctl/v1", "KvPair", KeyText.Printable(key), KeyText.Printable(value)));
        }

        return ExitCodes.Ok;
    }

    public static async Task<int> PutAsync(KvClient client, byte[] key, byte[] value, TextWriter stdout, CancellationToken ct)
    {
        var txn = await client.BeginAsync(ct);
        await using (txn.ConfigureAwait(false))
        {
            txn.Put(key, value);
            await txn.CommitAsync(ct);
        }

        stdout.WriteLine($"put {KeyText.Printable(key)}");
        return ExitCodes.Ok;
    }

    public static async Task<int> DeleteAsync(KvClient client, byte[] key, TextWriter stdout, CancellationToken ct)
    {
        var txn = await client.BeginAsync(ct);
        await using (txn.ConfigureAwait(false))
        {
            txn.Delete(key);
            await txn.CommitAsync(ct);
        }

        stdout.WriteLine($"deleted {KeyText.Printable(key)}");
        return ExitCodes.Ok;
    }

    public static async Task<int> ScanAsync(KvClient client, byte[] start, byte[] end, int limit, bool reverse, TextWriter stdout, OutputFormat format, CancellationToken ct)
    {
        var txn = await client.BeginAsync(ct);
        await using (txn.ConfigureAwait(false))
        {
            var pairs = await txn.ScanAsync(start, end, limit, reverse, ct);
            await txn.CommitAsync(ct);
            WriteScan(stdout, format, pairs);
        }

        return ExitCodes.Ok;
    }

    public static void WriteScan(TextWriter stdout, OutputFormat format, IReadOnlyList<KeyValuePair<byte[], byte[]>> pairs)
    {
        var items = pairs.Select(p => new PairDocument(KeyText.Printable(p.Key), KeyText.Printable(p.Value))).ToList();
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteDocument(stdout, format, new ScanDocument("kvctl/v1", "KvPairList", items));
            return;
        }

        OutputWriter.WriteTable(stdout, ["KEY", "VALUE"], items.Select(p => (IReadOnlyList<string>)[p.Key, p.Value]).ToList());
    }

    private static Command BuildGet(TextWriter stdout)
    {
        var command = new Command("get", "Read one key (exit 4 when it does not exist)");
        var key = KeyArgument("key", "The key");
        var hex = HexOption();
        var output = OutputWriter.CreateOption();
        command.Arguments.Add(key);
        command.Options.Add(hex);
        command.Options.Add(output);
        var connection = ClusterConnection.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            var target = connection.Read(parse);
            return ParseKeys(target.Stderr, parse.GetValue(hex), [("key", parse.GetValue(key)!)], out var args) is { } usage
                ? Task.FromResult(usage)
                : ClusterConnection.RunAsync(target, client => GetAsync(client, args[0], stdout, target.Stderr, parse.GetValue(output), ct));
        });
        return command;
    }

    private static Command BuildPut(TextWriter stdout)
    {
        var command = new Command("put", "Write one key");
        var key = KeyArgument("key", "The key");
        var value = new Argument<string>("value") { Description = "The value (may be empty)" };
        var hex = HexOption();
        command.Arguments.Add(key);
        command.Arguments.Add(value);
        command.Options.Add(hex);
        var connection = ClusterConnection.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            var target = connection.Read(parse);
            return ParseKeys(target.Stderr, parse.GetValue(hex), [("key", parse.GetValue(key)!), ("value", parse.GetValue(value)!)], out var args) is { } usage
                ? Task.FromResult(usage)
                : ClusterConnection.RunAsync(target, client => PutAsync(client, args[0], args[1], stdout, ct));
        });
        return command;
    }

    private static Command BuildDelete(TextWriter stdout)
    {
        var command = new Command("delete", "Delete one key (deleting a missing key succeeds)");
        var key = KeyArgument("key", "The key");
        var hex = HexOption();
        command.Arguments.Add(key);
        command.Options.Add(hex);
        var connection = ClusterConnection.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            var target = connection.Read(parse);
            return ParseKeys(target.Stderr, parse.GetValue(hex), [("key", parse.GetValue(key)!)], out var args) is { } usage
                ? Task.FromResult(usage)
                : ClusterConnection.RunAsync(target, client => DeleteAsync(client, args[0], stdout, ct));
        });
        return command;
    }

    private static Command BuildScan(TextWriter stdout)
    {
        var command = new Command("scan", "List pairs with keys in [START, END), across ranges; END \"\" means to the end");
        var start = new Argument<string>("start") { Description = "First key (inclusive); \"\" for the start of the key space" };
        var end = new Argument<string>("end") { Description = "Upper bound (exclusive); \"\" for the end of the key space" };
        var limit = new Option<int>("--limit") { Description = "Most pairs to return; 0 for no limit", DefaultValueFactory = _ => 100 };
        var reverse = new Option<bool>("--reverse") { Description = "Descending, from just below END" };
        var hex = HexOption();
        var output = OutputWriter.CreateOption();
        command.Arguments.Add(start);
        command.Arguments.Add(end);
        command.Options.Add(limit);
        command.Options.Add(reverse);
        command.Options.Add(hex);
        command.Options.Add(output);
        var connection = ClusterConnection.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            var target = connection.Read(parse);
            if (parse.GetValue(limit) < 0)
            {
                target.Stderr.WriteLine("error: --limit must be 0 (no limit) or more");
                return Task.FromResult(ExitCodes.Usage);
            }

            return ParseKeys(target.Stderr, parse.GetValue(hex), [("start", parse.GetValue(start)!), ("end", parse.GetValue(end)!)], out var args, allowEmpty: true) is { } usage
                ? Task.FromResult(usage)
                : ClusterConnection.RunAsync(target, client => ScanAsync(client, args[0], args[1], parse.GetValue(limit), parse.GetValue(reverse), stdout, parse.GetValue(output), ct));
        });
        return command;
    }

    internal static Argument<string> KeyArgument(string name, string description) => new(name) { Description = description };

    internal static Option<bool> HexOption() => new("--hex") { Description = "Keys and values are hex (for example 0x6b31) instead of UTF-8 text" };

    /// <summary>Decodes the arguments; null on success, else the usage exit code after writing what was wrong.</summary>
    private static int? ParseKeys(TextWriter stderr, bool hex, IReadOnlyList<(string Name, string Text)> args, out byte[][] bytes, bool allowEmpty = false)
    {
        bytes = new byte[args.Count][];
        for (var i = 0; i < args.Count; i++)
        {
            var (name, text) = args[i];
            if (KeyText.Parse(text, hex, name, out var error) is not { } b)
            {
                stderr.WriteLine($"error: {error}");
                return ExitCodes.Usage;
            }

            if (name == "key" && b.Length == 0 && !allowEmpty)
            {
                stderr.WriteLine("error: the key must not be empty");
                return ExitCodes.Usage;
            }

            bytes[i] = b;
        }

        return null;
    }
}
