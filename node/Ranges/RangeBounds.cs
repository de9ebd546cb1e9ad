using Google.Protobuf;
using Kv.Proto.V1;

namespace Kv.Node.Ranges;

/// <summary>Key-space arithmetic on range descriptors: [start, end), an empty end meaning "no end".</summary>
internal static class RangeBounds
{
    public static bool Contains(RangeDescriptor d, ReadOnlySpan<byte> key) =>
        key.SequenceCompareTo(d.StartKey.Span) >= 0 && (d.EndKey.IsEmpty || key.SequenceCompareTo(d.EndKey.Span) < 0);

    public static bool SameEpoch(RangeEpoch? a, RangeEpoch? b) =>
        (a?.ConfVer ?? 0) == (b?.ConfVer ?? 0) && (a?.Version ?? 0) == (b?.Version ?? 0);

    /// <summary>The replica with this member id, or null.</summary>
    public static ReplicaDescriptor? Replica(RangeDescriptor d, ulong replicaId)
    {
        foreach (var r in d.Replicas)
        {
            if (r.ReplicaId == replicaId)
            {
                return r;
            }
        }

        return null;
    }

    public static string Describe(ByteString key) => key.IsEmpty ? "\"\"" : Convert.ToHexString(key.Span);
}
