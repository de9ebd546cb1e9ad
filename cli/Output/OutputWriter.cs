using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
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
