using System.Diagnostics;
using Google.Protobuf;
using Kv.Proto.V1;

namespace Kv.Client.Cluster;

/// <summary>
/// A cached range: its descriptor as last learned and who we think leads it. Immutable; the
/// cache swaps entries. <see cref="LeaderStoreId"/> 0 means unknown, in which case requests go
/// to the replica at <see cref="Rotation"/> (and move on when that one says NotLeader with no hint).
/// </summary>
internal sealed record CachedRange(RangeDescriptor Descriptor, ulong LeaderStoreId, string? LeaderAddress, int Rotation)
{
    public ulong RangeId => Descriptor.RangeId;

    public ByteString StartKey => Descriptor.StartKey;

    /// <summary>Exclusive; empty means the end of the key space.</summary>
    public ByteString EndKey => Descriptor.EndKey;

    public RangeContext Context => new() { RangeId = Descriptor.RangeId, Epoch = Descriptor.Epoch?.Clone() ?? new RangeEpoch() };

    public bool Contains(ReadOnlySpan<byte> key) =>
        key.SequenceCompareTo(StartKey.Span) >= 0 && (EndKey.IsEmpty || key.SequenceCompareTo(EndKey.Span) < 0);

    /// <summary>The store to send to: the leader when known, else the replica at Rotation (voters first).</summary>
    public ulong TargetStoreId(int skip = 0)
    {
        if (LeaderStoreId != 0 && skip == 0)
        {
            return LeaderStoreId;
        }

        var replicas = Descriptor.Replicas;
        if (replicas.Count == 0)
        {
            return 0;
        }

        var voters = 0;
        foreach (var r in replicas)
        {
            voters += r.Role == ReplicaRole.Voter ? 1 : 0;
        }

        var index = (Rotation + skip) % (voters == 0 ? replicas.Count : voters);
        foreach (var r in replicas)
        {
            if (voters == 0 || r.Role == ReplicaRole.Voter)
            {
                if (index-- == 0)
                {
                    return r.StoreId;
                }
            }
        }

        return replicas[0].StoreId;
    }
}

/// <summary>
/// The client's map from keys to ranges: non-overlapping entries sorted by start key, found by
/// binary search. It is only a hint; servers check every request's range id and epoch, and
/// their errors correct the cache:
/// 1. NotLeader with a leader: <see cref="SetLeader"/>; without one: <see cref="RotateLeader"/>.
/// 2. EpochNotMatch: <see cref="ReplaceWith"/> the current descriptors the error carries.
/// 3. RangeNotFound, KeyNotInRange, a transport error: <see cref="Evict"/>, then reload from placement.
/// A descriptor never displaces an overlapping entry with a newer epoch (higher version, then conf_ver).
/// Thread-safe (one lock; the critical sections are a binary search and a list splice).
/// </summary>
internal sealed class RouteCache
{
    private readonly object _gate = new();

    // Sorted by StartKey; entries never overlap.
    private readonly List<CachedRange> _ranges = [];

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _ranges.Count;
            }
        }
    }

    /// <summary>The entries in key order (a copy).</summary>
    public IReadOnlyList<CachedRange> Snapshot()
    {
        lock (_gate)
        {
            return [.. _ranges];
        }
    }

    /// <summary>The cached range containing key, or null on a miss.</summary>
    public CachedRange? Find(ReadOnlySpan<byte> key)
    {
        lock (_gate)
        {
            var i = LastStartingAtOrBefore(key, inclusive: true);
            return i >= 0 && _ranges[i].Contains(key) ? _ranges[i] : null;
        }
    }

    /// <summary>
    /// The cached range holding the keys just below <paramref name="end"/> (exclusive; empty
    /// means the end of the key space): where a reverse scan ending at end starts. Null on a miss.
    /// </summary>
    public CachedRange? FindBefore(ReadOnlySpan<byte> end)
    {
        lock (_gate)
        {
            if (end.IsEmpty)
            {
                return _ranges.Count > 0 && _ranges[^1].EndKey.IsEmpty ? _ranges[^1] : null;
            }

            var i = LastStartingAtOrBefore(end, inclusive: false);
            if (i < 0)
            {
                return null;
            }

            var r = _ranges[i];
            return r.EndKey.IsEmpty || end.SequenceCompareTo(r.EndKey.Span) <= 0 ? r : null;
        }
    }

    public CachedRange? Get(ulong rangeId)
    {
        lock (_gate)
        {
            var i = IndexOf(rangeId);
            return i < 0 ? null : _ranges[i];
        }
    }

    /// <summary>
    /// Caches a descriptor (from placement or an error), dropping the entries it overlaps, unless
    /// one of them is newer: then the cache keeps them and the returned entry is only used for
    /// the attempt at hand (the server will correct it).
    /// </summary>
    public CachedRange Insert(RangeDescriptor descriptor, ulong leaderStoreId = 0, string? leaderAddress = null)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var entry = new CachedRange(descriptor, leaderStoreId, string.IsNullOrEmpty(leaderAddress) ? null : leaderAddress, 0);
        lock (_gate)
        {
            InsertLocked(entry);
            AssertInvariants();
        }

        return entry;
    }

    /// <summary>EpochNotMatch: the descriptors now covering the request's span replace what the cache had there.</summary>
    public void ReplaceWith(IEnumerable<RangeDescriptor> current)
    {
        ArgumentNullException.ThrowIfNull(current);
        lock (_gate)
        {
            foreach (var d in current)
            {
                // A leader we knew for the same range id and replicas is likely still the leader.
                var old = IndexOf(d.RangeId) is var i and >= 0 ? _ranges[i] : null;
                var keepLeader = old is not null && old.LeaderStoreId != 0 && d.Replicas.Any(r => r.StoreId == old.LeaderStoreId);
                InsertLocked(new CachedRange(d, keepLeader ? old!.LeaderStoreId : 0, keepLeader ? old!.LeaderAddress : null, 0));
            }

            AssertInvariants();
        }
    }

    /// <summary>NotLeader with a hint: the range's leader is now that store (address when the error named it).</summary>
    public void SetLeader(ulong rangeId, ulong storeId, string? address)
    {
        lock (_gate)
        {
            var i = IndexOf(rangeId);
            if (i >= 0)
            {
                _ranges[i] = _ranges[i] with { LeaderStoreId = storeId, LeaderAddress = string.IsNullOrEmpty(address) ? null : address };
            }
        }
    }

    /// <summary>NotLeader without a hint: forget the leader and try the next replica.</summary>
    public void RotateLeader(ulong rangeId)
    {
        lock (_gate)
        {
            var i = IndexOf(rangeId);
            if (i >= 0)
            {
                var r = _ranges[i];
                _ranges[i] = r with { LeaderStoreId = 0, LeaderAddress = null, Rotation = r.LeaderStoreId == 0 ? r.Rotation + 1 : r.Rotation };
            }
        }
    }

    public void Evict(ulong rangeId)
    {
        lock (_gate)
        {
            var i = IndexOf(rangeId);
            if (i >= 0)
            {
                _ranges.RemoveAt(i);
            }
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _ranges.Clear();
        }
    }

    /// <summary>(version, conf_ver) of a strictly newer than b's.</summary>
    internal static bool IsNewer(RangeEpoch? a, RangeEpoch? b)
    {
        a ??= new RangeEpoch();
        b ??= new RangeEpoch();
        return a.Version != b.Version ? a.Version > b.Version : a.ConfVer > b.ConfVer;
    }

    private void InsertLocked(CachedRange entry)
    {
        // Entries overlapping [start, end): from the one containing start onwards while they begin before end.
        var first = LastStartingAtOrBefore(entry.StartKey.Span, inclusive: true);
        if (first < 0 || !Overlaps(_ranges[first], entry))
        {
            first++;
        }

        var last = first;
        while (last < _ranges.Count && Overlaps(_ranges[last], entry))
        {
            if (IsNewer(_ranges[last].Descriptor.Epoch, entry.Descriptor.Epoch))
            {
                return;
            }

            last++;
        }

        // The same range id elsewhere (it moved its bounds) is stale too.
        var same = IndexOf(entry.RangeId);
        if (same >= 0 && (same < first || same >= last))
        {
            if (IsNewer(_ranges[same].Descriptor.Epoch, entry.Descriptor.Epoch))
            {
                return;
            }

            _ranges.RemoveAt(same);
            if (same < first)
            {
                first--;
                last--;
            }
        }

        _ranges.RemoveRange(first, last - first);
        _ranges.Insert(first, entry);
    }

    private static bool Overlaps(CachedRange a, CachedRange b) =>
        (a.EndKey.IsEmpty || b.StartKey.Span.SequenceCompareTo(a.EndKey.Span) < 0)
        && (b.EndKey.IsEmpty || a.StartKey.Span.SequenceCompareTo(b.EndKey.Span) < 0);

    private int IndexOf(ulong rangeId)
    {
        for (var i = 0; i < _ranges.Count; i++)
        {
            if (_ranges[i].RangeId == rangeId)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Index of the last entry whose start is &lt;= key (inclusive) or &lt; key; -1 when none.</summary>
    private int LastStartingAtOrBefore(ReadOnlySpan<byte> key, bool inclusive)
    {
        int lo = 0, hi = _ranges.Count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = lo + ((hi - lo) >> 1);
            var c = _ranges[mid].StartKey.Span.SequenceCompareTo(key);
            if (c < 0 || (inclusive && c == 0))
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found;
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        for (var i = 1; i < _ranges.Count; i++)
        {
            var prev = _ranges[i - 1];
            var cur = _ranges[i];
            Debug.Assert(!prev.EndKey.IsEmpty && prev.EndKey.Span.SequenceCompareTo(cur.StartKey.Span) <= 0, "route cache entries overlap or are out of order");
        }
    }
}
