using Google.Protobuf;
using Kv.Node.Mvcc;
using Kv.Node.Storage;
using Kv.Proto.V1;

namespace Kv.Node.Ranges.Snapshots;

/// <summary>
/// Keys [<see cref="Lower"/>, <see cref="Upper"/>) of one column family: the unit a snapshot
/// copies and a receiver replaces. Both bounds are non-empty engine keys, Lower sorts before Upper.
/// </summary>
internal sealed class KeySpan
{
    public KeySpan(ColumnFamily columnFamily, ReadOnlySpan<byte> lower, ReadOnlySpan<byte> upper)
    {
        ColumnFamilyNames.Of(columnFamily); // refuses an unknown family
        if (lower.IsEmpty || upper.IsEmpty)
        {
            throw new ArgumentException("a snapshot span needs non-empty lower and upper keys (engine keys are never empty); compute it with KeySpan.RawData or give both bounds");
        }

        if (lower.SequenceCompareTo(upper) >= 0)
        {
            throw new ArgumentException($"a snapshot span needs its lower key to sort before its upper key; got lower {Convert.ToHexString(lower)}, upper {Convert.ToHexString(upper)}");
        }

        ColumnFamily = columnFamily;
        Lower = lower.ToArray();
        Upper = upper.ToArray();
    }

    public ColumnFamily ColumnFamily { get; }

    public ReadOnlyMemory<byte> Lower { get; }

    public ReadOnlyMemory<byte> Upper { get; }

    /// <summary>
    /// The raw-KV data of <paramref name="descriptor"/>: default-CF keys 'z' + user key for user
    /// keys in [start, end), an empty end meaning the end of the key space (Keys.DataEnd).
    /// </summary>
    public static KeySpan RawData(RangeDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var upper = descriptor.EndKey.IsEmpty ? Keys.DataEnd : Keys.Data(descriptor.EndKey.Span);
        return new KeySpan(ColumnFamily.Default, Keys.Data(descriptor.StartKey.Span), upper);
    }

    /// <summary>
    /// Everything a replica of <paramref name="descriptor"/> holds: the raw-KV span (<see cref="RawData"/>)
    /// and the transactional spans ['x' + encoded start, 'x' + encoded end) of the default, lock and
    /// write CFs (node/Mvcc/TxnKeys). What snapshots are cut, verified and ingested with.
    /// </summary>
    public static IReadOnlyList<KeySpan> ForRange(RangeDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var lower = TxnKeys.SpanLower(descriptor.StartKey.Span);
        var upper = TxnKeys.SpanUpper(descriptor.EndKey.Span);
        return
        [
            RawData(descriptor),
            new KeySpan(ColumnFamily.Default, lower, upper),
            new KeySpan(ColumnFamily.Lock, lower, upper),
            new KeySpan(ColumnFamily.Write, lower, upper),
        ];
    }

    public SnapshotSpan ToProto() => new()
    {
        ColumnFamily = ColumnFamilyNames.Of(ColumnFamily),
        LowerKey = ByteString.CopyFrom(Lower.Span),
        UpperKey = ByteString.CopyFrom(Upper.Span),
    };

    /// <summary>The span a peer sent, or null with <paramref name="error"/> saying what is wrong with it.</summary>
    public static KeySpan? FromProto(SnapshotSpan span, out string? error)
    {
        var cf = -1;
        for (var i = 0; i < ColumnFamilyNames.All.Count; i++)
        {
            if (ColumnFamilyNames.All[i] == span.ColumnFamily)
            {
                cf = i;
            }
        }

        if (cf < 0)
        {
            error = $"unknown column family '{span.ColumnFamily}' (expected one of {string.Join(", ", ColumnFamilyNames.All)})";
            return null;
        }

        if (span.LowerKey.IsEmpty || span.UpperKey.IsEmpty || span.LowerKey.Span.SequenceCompareTo(span.UpperKey.Span) >= 0)
        {
            error = $"span [{RangeBounds.Describe(span.LowerKey)}, {RangeBounds.Describe(span.UpperKey)}) of {span.ColumnFamily} is not a non-empty key range with both bounds set";
            return null;
        }

        error = null;
        return new KeySpan((ColumnFamily)cf, span.LowerKey.Span, span.UpperKey.Span);
    }

    /// <summary>True if both spans name the same family and bounds.</summary>
    public bool SameAs(KeySpan other) =>
        ColumnFamily == other.ColumnFamily && Lower.Span.SequenceEqual(other.Lower.Span) && Upper.Span.SequenceEqual(other.Upper.Span);

    /// <summary>Null if the spans are usable together (no two of one family overlap), else what is wrong.</summary>
    public static string? CheckDisjoint(IReadOnlyList<KeySpan> spans)
    {
        for (var i = 0; i < spans.Count; i++)
        {
            for (var j = i + 1; j < spans.Count; j++)
            {
                var a = spans[i];
                var b = spans[j];
                if (a.ColumnFamily == b.ColumnFamily && a.Lower.Span.SequenceCompareTo(b.Upper.Span) < 0 && b.Lower.Span.SequenceCompareTo(a.Upper.Span) < 0)
                {
                    return $"spans {i} and {j} of column family {ColumnFamilyNames.Of(a.ColumnFamily)} overlap";
                }
            }
        }

        return null;
    }

    public override string ToString() =>
        $"{ColumnFamilyNames.Of(ColumnFamily)} [{Convert.ToHexString(Lower.Span)}, {Convert.ToHexString(Upper.Span)})";
}
