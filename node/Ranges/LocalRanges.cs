using System.Collections.Concurrent;

namespace Kv.Node.Ranges;

/// <summary>
/// The range replicas this store holds, by range id. Written on the store's driver thread (when a
/// replica is opened, created by a split or a snapshot, or destroyed) and read from any thread
/// (services routing requests, heartbeats).
/// </summary>
internal sealed class LocalRanges
{
    private readonly ConcurrentDictionary<ulong, RangeReplica> replicas = new();

    public int Count => replicas.Count;

    public RangeReplica? Get(ulong rangeId) => replicas.TryGetValue(rangeId, out var r) ? r : null;

    public bool Contains(ulong rangeId) => replicas.ContainsKey(rangeId);

    public void Add(RangeReplica replica)
    {
        if (!replicas.TryAdd(replica.RangeId, replica))
        {
            throw new InvalidOperationException($"range {replica.RangeId} already has a replica on this store");
        }
    }

    public bool Remove(ulong rangeId) => replicas.TryRemove(rangeId, out _);

    public IReadOnlyList<RangeReplica> All() => [.. replicas.Values];

    /// <summary>The replicas whose current key span overlaps [start, end) (an empty end: to the end of the key space).</summary>
    public IReadOnlyList<RangeReplica> Overlapping(ReadOnlySpan<byte> start, ReadOnlySpan<byte> end)
    {
        List<RangeReplica>? result = null;
        foreach (var r in replicas.Values)
        {
            var d = r.Descriptor;
            var startsBeforeEnd = end.IsEmpty || d.StartKey.Span.SequenceCompareTo(end) < 0;
            var endsAfterStart = d.EndKey.IsEmpty || d.EndKey.Span.SequenceCompareTo(start) > 0;
            if (startsBeforeEnd && endsAfterStart)
            {
                (result ??= []).Add(r);
            }
        }

        return result ?? (IReadOnlyList<RangeReplica>)[];
    }
}
