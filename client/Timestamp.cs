using System.Globalization;

namespace Kv.Client;

/// <summary>
/// A timestamp from the cluster timestamp oracle: <c>physical_ms &lt;&lt; 18 | logical</c>
/// (shared/DESIGN.md section 6). Ordering is the ordering of the packed 64-bit value, so a
/// later physical time always wins and the logical counter orders within one millisecond.
/// </summary>
public readonly record struct Timestamp(ulong Value) : IComparable<Timestamp>
{
    /// <summary>Bits of the logical counter: 262,144 timestamps per millisecond.</summary>
    public const int LogicalBits = 18;

    /// <summary>Largest logical counter within one millisecond.</summary>
    public const uint MaxLogical = (1u << LogicalBits) - 1;

    /// <summary>Largest physical time representable (46 bits of milliseconds, about the year 4199).</summary>
    public const long MaxPhysicalMs = (long)(ulong.MaxValue >> LogicalBits);

    /// <summary>No timestamp; sorts before every real one.</summary>
    public static Timestamp Zero => default;

    /// <summary>Sorts after every real timestamp: "read the latest".</summary>
    public static Timestamp Max => new(ulong.MaxValue);

    /// <summary>Milliseconds since the Unix epoch.</summary>
    public long PhysicalMs => (long)(Value >> LogicalBits);

    /// <summary>Counter within <see cref="PhysicalMs"/>.</summary>
    public uint Logical => (uint)(Value & MaxLogical);

    /// <summary>Packs a physical time and a logical counter; refuses values that do not fit.</summary>
    public static Timestamp Compose(long physicalMs, uint logical)
    {
        if (physicalMs < 0 || physicalMs > MaxPhysicalMs)
        {
            throw new ArgumentOutOfRangeException(nameof(physicalMs), physicalMs,
                $"physical time must be between 0 and {MaxPhysicalMs} ms since the Unix epoch");
        }

        if (logical > MaxLogical)
        {
            throw new ArgumentOutOfRangeException(nameof(logical), logical,
                $"logical counter must be at most {MaxLogical}");
        }

        return new Timestamp(((ulong)physicalMs << LogicalBits) | logical);
    }

    public int CompareTo(Timestamp other) => Value.CompareTo(other.Value);

    public static bool operator <(Timestamp left, Timestamp right) => left.Value < right.Value;

    public static bool operator >(Timestamp left, Timestamp right) => left.Value > right.Value;

    public static bool operator <=(Timestamp left, Timestamp right) => left.Value <= right.Value;

    public static bool operator >=(Timestamp left, Timestamp right) => left.Value >= right.Value;

    public override string ToString() =>
        Value.ToString(CultureInfo.InvariantCulture);
}
