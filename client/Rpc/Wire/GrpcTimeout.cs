using System.Globalization;

namespace Kv.Client.Rpc.Wire;

/// <summary>
/// The <c>grpc-timeout</c> header: at most 8 ASCII digits followed by a unit
/// (H hours, M minutes, S seconds, m milliseconds, u microseconds, n nanoseconds).
/// </summary>
public static class GrpcTimeout
{
    private const long MaxValue = 99_999_999;

    /// <summary>
    /// Encodes a positive timeout in the finest unit that fits 8 digits, rounding up so the
    /// server never sees a shorter deadline than the client's.
    /// </summary>
    public static string Encode(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero)
        {
            return "1n";
        }

        // 1 tick = 100 ns.
        var ticks = timeout.Ticks;
        if (ticks <= MaxValue / 100)
        {
            return Format(ticks * 100, 'n');
        }

        var micros = CeilDiv(ticks, TimeSpan.TicksPerMillisecond / 1000);
        if (micros <= MaxValue)
        {
            return Format(micros, 'u');
        }

        var millis = CeilDiv(ticks, TimeSpan.TicksPerMillisecond);
        if (millis <= MaxValue)
        {
            return Format(millis, 'm');
        }

        var seconds = CeilDiv(ticks, TimeSpan.TicksPerSecond);
        if (seconds <= MaxValue)
        {
            return Format(seconds, 'S');
        }

        var minutes = CeilDiv(ticks, TimeSpan.TicksPerMinute);
        if (minutes <= MaxValue)
        {
            return Format(minutes, 'M');
        }

        return Format(Math.Min(CeilDiv(ticks, TimeSpan.TicksPerHour), MaxValue), 'H');
    }

    /// <summary>Parses a header value; false when it is not a valid grpc-timeout.</summary>
    public static bool TryParse(ReadOnlySpan<char> value, out TimeSpan timeout)
    {
        timeout = default;
        if (value.Length < 2 || value.Length > 9)
        {
            return false;
        }

        long n = 0;
        foreach (var c in value[..^1])
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            n = (n * 10) + (c - '0');
        }

        // 99,999,999 hours is about 11,400 years: within TimeSpan's range.
        timeout = value[^1] switch
        {
            'H' => TimeSpan.FromTicks(n * TimeSpan.TicksPerHour),
            'M' => TimeSpan.FromTicks(n * TimeSpan.TicksPerMinute),
            'S' => TimeSpan.FromTicks(n * TimeSpan.TicksPerSecond),
            'm' => TimeSpan.FromTicks(n * TimeSpan.TicksPerMillisecond),
            'u' => TimeSpan.FromTicks(n * (TimeSpan.TicksPerMillisecond / 1000)),
            'n' => TimeSpan.FromTicks(CeilDiv(n, 100)),
            _ => TimeSpan.MinValue,
        };
        return timeout != TimeSpan.MinValue;
    }

    // Written to avoid overflow near long.MaxValue (TimeSpan.MaxValue).
    private static long CeilDiv(long a, long b) => (a / b) + (a % b != 0 ? 1 : 0);

    private static string Format(long value, char unit) =>
        value.ToString(CultureInfo.InvariantCulture) + unit;
}
