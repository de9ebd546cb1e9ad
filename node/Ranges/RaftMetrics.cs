using System.Diagnostics;
using Prometheus;

namespace Kv.Node.Ranges;

/// <summary>
/// What a store's Raft driver counts (docs/OBSERVABILITY.md), in the owning node's registry. Every
/// group on the store adds to the same series: ranges are never a label (unbounded cardinality).
/// Only the driver thread records into these, and observing allocates nothing.
/// </summary>
public sealed class RaftMetrics
{
    private readonly Counter.Child proposalsNormal;
    private readonly Counter.Child proposalsConfChange;
    private readonly Counter.Child becameLeader;
    private readonly Counter.Child steppedDown;
    private readonly Counter committedEntries;
    private readonly Histogram applySeconds;

    public RaftMetrics(IMetricFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var proposals = factory.CreateCounter(
            "kv_raft_proposals_total",
            "Proposals appended to the log by a leader on this store (kind: normal commands or membership changes). Refused proposals (not leader) are not counted.",
            ["kind"]);
        proposalsNormal = proposals.WithLabels("normal");
        proposalsConfChange = proposals.WithLabels("conf_change");
        committedEntries = factory.CreateCounter(
            "kv_raft_committed_entries_total",
            "Committed log entries handed to this store's replicas for apply (leaders and followers, all groups).");
        var leaderChanges = factory.CreateCounter(
            "kv_raft_leader_changes_total",
            "Leadership changes of this store's replicas (all groups): became_leader when a replica wins an election or a transfer, stepped_down when it stops leading.",
            ["change"]);
        becameLeader = leaderChanges.WithLabels("became_leader");
        steppedDown = leaderChanges.WithLabels("stepped_down");
        applySeconds = factory.CreateHistogram(
            "kv_raft_apply_seconds",
            "Time to apply one group's committed entries of one Raft round into the round's write batch (the batch's write is kv_storage_write_batch_seconds).",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.00001, 2, 18) });
    }

    internal void Proposed(bool confChange) => (confChange ? proposalsConfChange : proposalsNormal).Inc();

    internal void Applied(int entries, long startTimestamp)
    {
        committedEntries.Inc(entries);
        applySeconds.Observe(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
    }

    internal void LeadershipChanged(bool isLeader) => (isLeader ? becameLeader : steppedDown).Inc();
}
