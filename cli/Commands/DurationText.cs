using System.Globalization;
using System.Text.RegularExpressions;

namespace Kv.Cli.Commands;

/// <summary>
/// Durations and points in time as kvctl arguments take them: a duration is one or more
/// number-unit pairs ("90s", "30m", "1h30m", "2d"; units s, m, h, d); a time is a duration ago
/// or an ISO 8601 timestamp ("2026-12-05T19:00:00Z"; without an offset it is UTC).
/// </summary>
internal static partial class DurationText
{
    [GeneratedRegex(@"^(?:(\d+)(d|h|m|s))+$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    [GeneratedRegex(@"(\d+)(d|h|m|s)", RegexOptions.CultureInvariant)]
    private static partial Regex Part();

    /// <summary>The duration, or null with a message saying what is wrong and what is accepted.</summary>
    public static TimeSpan? Parse(string? text, string option, out string? error)
    {
        error = null;
        var trimmed = text?.Trim() ?? string.Empty;
        if (trimmed.Length == 0 || !Pattern().IsMatch(trimmed))
        {
            error = $"{option} '{text}' is not a duration: use a number and a unit (s, m, h, d), for example 90s, 30m, 1h or 1h30m";
            return null;
        }

        var total = TimeSpan.Zero;
        foreach (Match m in Part().Matches(trimmed))
        {
            if (!long.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > 100_000)
            {
                error = $"{option} '{text}' is too long; give at most a few days (for example 7d)";
                return null;
            }

            total += m.Groups[2].Value switch
            {
                "d" => TimeSpan.FromDays(n),
                "h" => TimeSpan.FromHours(n),
                "m" => TimeSpan.FromMinutes(n),
                _ => TimeSpan.FromSeconds(n),
            };
        }

        return total;
    }

    /// <summary>A point in time: a duration before <paramref name="now"/>, or an ISO 8601 timestamp.</summary>
    public static DateTimeOffset? ParseSince(string? text, DateTimeOffset now, string option, out string? error)
    {
        error = null;
        var trimmed = text?.Trim() ?? string.Empty;
        if (trimmed.Length > 0 && Pattern().IsMatch(trimmed))
        {
            return Parse(trimmed, option, out error) is { } ago ? now - ago : null;
        }

        if (trimmed.Length > 0 && trimmed.Contains('T', StringComparison.Ordinal)
            && DateTimeOffset.TryParse(trimmed, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
        {
            return at;
        }

        error = $"{option} '{text}' is neither a duration ago (for example 1h, 30m, 2d) nor an ISO 8601 time (for example 2026-12-05T19:00:00Z)";
        return null;
    }

    /// <summary>A duration for people: "1h20m", "45s", "3d4h".</summary>
    public static string Format(TimeSpan span)
    {
        if (span < TimeSpan.FromSeconds(1))
        {
            return "0s";
        }

        var parts = new List<string>();
        if (span.Days > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{span.Days}d"));
        }

        if (span.Hours > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{span.Hours}h"));
        }

        if (span.Minutes > 0 && span.Days == 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{span.Minutes}m"));
        }

        if (span.Seconds > 0 && span.TotalHours < 1)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{span.Seconds}s"));
        }

        return string.Concat(parts);
    }
}
