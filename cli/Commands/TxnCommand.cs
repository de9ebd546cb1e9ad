using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Kv.Client.Cluster;

namespace Kv.Cli.Commands;

/// <summary>
/// <c>kvctl txn run --file F</c>: executes a JSON array of operations as one snapshot-isolated
/// transaction: <c>{"op":"get","key":"a"}</c>, <c>{"op":"put","key":"a","value":"1"}</c>,
/// <c>{"op":"delete","key":"a"}</c>, in order (a get sees the puts and deletes before it).
/// <c>--file -</c> reads standard input. Keys and values are UTF-8 strings, or hex with
/// <c>--hex</c>. After the commit it prints one line per get (key and value, or key and
/// "(not found)") and then "committed at TS". Bad JSON or an unknown op exits 2 naming the
/// element, before anything is sent; a write conflict or aborted transaction exits 6 (retry);
/// an unknown commit outcome exits 7.
/// </summary>
internal static class TxnCommand
{
    /// <summary>One operation of the file.</summary>
    internal sealed record TxnOp(string Op, byte[] Key, byte[]? Value);

    public static Command Build(TextWriter stdout, TextReader stdin)
    {
        var txn = new Command("txn", "Transactions");
        var run = new Command("run", "Run a JSON array of get/put/delete operations as one transaction; prints the reads and the commit timestamp");
        var file = new Option<string>("--file")
        {
            Description = "The JSON file: [{\"op\":\"get|put|delete\",\"key\":\"k\",\"value\":\"v\"}, ...]; - for standard input",
            Required = true,
        };
        var hex = KvCommand.HexOption();
        run.Options.Add(file);
        run.Options.Add(hex);
        var connection = ClusterConnection.AddTo(run);
        run.SetAction(async (parse, ct) =>
        {
            var target = connection.Read(parse);
            var path = parse.GetValue(file)!;
            string json;
            try
            {
                json = path == "-" ? await stdin.ReadToEndAsync(ct) : await File.ReadAllTextAsync(path, ct);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                target.Stderr.WriteLine($"error: cannot read --file {path}: {e.Message}");
                return ExitCodes.Usage;
            }

            if (Parse(json, parse.GetValue(hex), out var error) is not { } ops)
            {
                target.Stderr.WriteLine($"error: {(path == "-" ? "standard input" : path)}: {error}");
                return ExitCodes.Usage;
            }

            return await ClusterConnection.RunAsync(target, client => RunAsync(client, ops, stdout, ct));
        });
        txn.Subcommands.Add(run);
        return txn;
    }

    /// <summary>The operations of a <c>txn run</c> file, or null with the reason (naming the element) when it is not a valid one.</summary>
    public static IReadOnlyList<TxnOp>? Parse(string json, bool hex, out string? error)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            error = $"not valid JSON: {e.Message}; expected an array like [{{\"op\":\"put\",\"key\":\"a\",\"value\":\"1\"}}]";
            return null;
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                error = $"expected a JSON array of operations, not {Kind(doc.RootElement)}";
                return null;
            }

            var ops = new List<TxnOp>();
            var index = 0;
            foreach (var element in doc.RootElement.EnumerateArray())
            {
                if (ParseElement(element, index, hex, out error) is not { } op)
                {
                    return null;
                }

                ops.Add(op);
                index++;
            }

            if (ops.Count == 0)
            {
                error = "the array is empty: give at least one operation";
                return null;
            }

            error = null;
            return ops;
        }
    }

    public static async Task<int> RunAsync(KvClient client, IReadOnlyList<TxnOp> ops, TextWriter stdout, CancellationToken ct)
    {
        var reads = new List<string>();
        Client.Timestamp commitTs;
        var txn = await client.BeginAsync(ct);
        await using (txn.ConfigureAwait(false))
        {
            foreach (var op in ops)
            {
                switch (op.Op)
                {
                    case "get":
                        var value = await txn.GetAsync(op.Key, ct);
                        reads.Add($"{KeyText.Printable(op.Key)} {(value is null ? "(not found)" : KeyText.Printable(value))}");
                        break;
                    case "put":
                        txn.Put(op.Key, op.Value);
                        break;
                    default:
                        txn.Delete(op.Key);
                        break;
                }
            }

            commitTs = await txn.CommitAsync(ct);
        }

        foreach (var line in reads)
        {
            stdout.WriteLine(line);
        }

        stdout.WriteLine($"committed at {commitTs.Value.ToString(CultureInfo.InvariantCulture)}");
        return ExitCodes.Ok;
    }

    private static TxnOp? ParseElement(JsonElement element, int index, bool hex, out string? error)
    {
        var where = $"element {index}";
        if (element.ValueKind != JsonValueKind.Object)
        {
            error = $"{where}: expected an object like {{\"op\":\"get\",\"key\":\"a\"}}, not {Kind(element)}";
            return null;
        }

        foreach (var property in element.EnumerateObject())
        {
            if (property.Name is not ("op" or "key" or "value"))
            {
                error = $"{where}: unknown field \"{property.Name}\" (expected op, key and, for put, value)";
                return null;
            }
        }

        if (!element.TryGetProperty("op", out var opElement) || opElement.ValueKind != JsonValueKind.String)
        {
            error = $"{where}: \"op\" must be a string: get, put or delete";
            return null;
        }

        var op = opElement.GetString()!;
        if (op is not ("get" or "put" or "delete"))
        {
            error = $"{where}: unknown op \"{op}\" (expected get, put or delete)";
            return null;
        }

        if (!element.TryGetProperty("key", out var keyElement) || keyElement.ValueKind != JsonValueKind.String)
        {
            error = $"{where}: \"key\" must be a string";
            return null;
        }

        if (KeyText.Parse(keyElement.GetString()!, hex, "key", out var keyError) is not { Length: > 0 } key)
        {
            error = $"{where}: {keyError ?? "the key must not be empty"}";
            return null;
        }

        byte[]? value = null;
        var hasValue = element.TryGetProperty("value", out var valueElement);
        if (op == "put")
        {
            if (!hasValue || valueElement.ValueKind != JsonValueKind.String)
            {
                error = $"{where}: a put needs \"value\" as a string (may be empty)";
                return null;
            }

            if (KeyText.Parse(valueElement.GetString()!, hex, "value", out var valueError) is not { } v)
            {
                error = $"{where}: {valueError}";
                return null;
            }

            value = v;
        }
        else if (hasValue)
        {
            error = $"{where}: a {op} takes no \"value\"";
            return null;
        }

        error = null;
        return new TxnOp(op, key, value);
    }

    private static string Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
