using System.Globalization;

namespace Kv.Bench.Harness;

/// <summary>Order statistics over repeated measurements. The machine is shared and noisy: report medians.</summary>
internal static class Sample
{
    /// <summary>The q-quantile (0..1) by nearest rank over a copy of the values.</summary>
    public static double Quantile(IReadOnlyCollection<double> values, double q)
    {
        if (values.Count == 0)
        {
            throw new ArgumentException("no samples", nameof(values));
        }

        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(q * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    public static double Median(IReadOnlyCollection<double> values) => Quantile(values, 0.5);

    public static string Format(double value) => value.ToString(value >= 100 ? "N0" : "N2", CultureInfo.InvariantCulture);
}
