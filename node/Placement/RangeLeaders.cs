using Kv.Proto.V1;

namespace Kv.Node.Placement;

/// <summary>
/// Soft state of the placement leader: the latest leader and approximate size each range's
/// leader reported (RangeHeartbeat). Not replicated; a new leader starts empty and learns again
/// from the next heartbeats. A report with a lower epoch than the one kept is ignored, so a
/// deposed leader's late heartbeat cannot hide the current one. Thread-safe.
/// </summary>
internal sealed class RangeLeaders
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, RangeLeaderInfo> _ranges = [];

    /// <summary>Records a report; returns false when it was older (lower epoch) than the one kept.</summary>
    public bool Report(ulong rangeId, RangeEpoch epoch, ReplicaDescriptor leader, ulong approximateSizeBytes, long nowMs)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        ArgumentNullException.ThrowIfNull(leader);
        lock (_lock)
        {
            if (_ranges.TryGetValue(rangeId, out var kept) && PlacementState.EpochGreater(kept.Epoch, epoch))
            {
                return false;
            }

            _ranges[rangeId] = new RangeLeaderInfo(epoch.Clone(), leader.Clone(), approximateSizeBytes, nowMs);
            return true;
        }
    }

    /// <summary>The latest report for <paramref name="rangeId"/>; null when none since this leader took over.</summary>
    public RangeLeaderInfo? Get(ulong rangeId)
    {
        lock (_lock)
        {
            return _ranges.TryGetValue(rangeId, out var info) ? info : null;
        }
    }
}

/// <summary>A range leader's report. The messages are this instance's copies: do not mutate.</summary>
internal sealed record RangeLeaderInfo(RangeEpoch Epoch, ReplicaDescriptor Leader, ulong ApproximateSizeBytes, long ReportedAtMs);
