using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Kv.Client.Views;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Kv.Cli.Output;

/// <summary>The shared <c>-o table|json|yaml</c> option and the writers behind it.</summary>
internal static class OutputWriter
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private static readonly ISerializer Yaml = new SerializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .Build();

    public static Option<OutputFormat> CreateOption() => new("--output", "-o")
    {
        Description = "Output format: table, json or yaml",
        DefaultValueFactory = _ => OutputFormat.Table,
    };

    /// <summary>Writes a document as JSON or YAML; tables are the caller's, since their columns are per command.</summary>
    public static void WriteDocument<T>(TextWriter stdout, OutputFormat format, T document)
    {
        switch (format)
        {
            case OutputFormat.Json:
                stdout.WriteLine(JsonSerializer.Serialize(document, Json));
                break;
            case OutputFormat.Yaml:
                stdout.Write(Yaml.Serialize(document));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, "tables are written by the command");
        }
    }

    /// <summary>
    /// Writes a view record of Kv.Client.Views in the views' one JSON contract (ViewJson), so kvctl,
    /// the module and the operator print the same fields; YAML is that JSON, re-encoded.
    /// </summary>
    public static void WriteView<T>(TextWriter stdout, OutputFormat format, T view)
    {
        var json = ViewJson.Serialize(view);
        switch (format)
        {
            case OutputFormat.Json:
                stdout.WriteLine(json);
                break;
            case OutputFormat.Yaml:
                stdout.Write(Yaml.Serialize(Plain(JsonNode.Parse(json))));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, "tables are written by the command");
        }
    }

    // JSON nodes as the plain objects YamlDotNet serializes, keeping the JSON's field order.
    private static object? Plain(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => o.ToDictionary(p => p.Key, p => Plain(p.Value), StringComparer.Ordinal),
        JsonArray a => a.Select(Plain).ToList(),
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.Number => decimal.Parse(v.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => null,
        },
        _ => null,
    };

    /// <summary>Writes rows under a header, columns padded to their widest cell.</summary>
    public static void WriteTable(TextWriter stdout, IReadOnlyList<string> header, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        var widths = new int[header.Count];
        for (var c = 0; c < header.Count; c++)
        {
            widths[c] = header[c].Length;
            foreach (var row in rows)
            {
                widths[c] = Math.Max(widths[c], row[c].Length);
            }
        }

        WriteRow(stdout, header, widths);
        foreach (var row in rows)
        {
            WriteRow(stdout, row, widths);
        }
    }

    private static void WriteRow(TextWriter stdout, IReadOnlyList<string> cells, int[] widths)
    {
        for (var c = 0; c < cells.Count; c++)
        {
            stdout.Write(c == cells.Count - 1 ? cells[c] : cells[c].PadRight(widths[c] + 2));
        }

        stdout.WriteLine();
    }
}
