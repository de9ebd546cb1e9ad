using System.Globalization;
using Prometheus;

namespace Kv.Node.Tests.Observability;

/// <summary>Prometheus text exposition read back into series: "name{label=\"v\",...}" -> value.</summary>
internal static class MetricsText
{
    public static Dictionary<string, double> Parse(string text)
    {
        var series = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            series[line[..space]] = double.Parse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        return series;
    }

    public static async Task<Dictionary<string, double>> CollectAsync(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return Parse(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    /// <summary>The series' value, 0 when absent.</summary>
    public static double Value(this Dictionary<string, double> series, string name) => series.GetValueOrDefault(name);
}
