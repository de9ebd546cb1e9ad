using System.Collections.Immutable;
using System.Diagnostics;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations;

/// <summary>
/// The control part of placement's replicated state (shared/DESIGN.md sections 7 and 8): operation
/// records, each store's admin state and maintenance window, the cluster settings and the audit
/// log. Immutable, like the <see cref="PlacementSnapshot"/> that holds it: every change makes a new
/// instance, and the messages it holds are never mutated.
/// </summary>
internal sealed record OperationsState(
    ImmutableSortedDictionary<string, OperationEntry> Operations,
    ImmutableSortedDictionary<string, OperationEntry> Active,
    ImmutableSortedDictionary<ulong, StoreAdminRecord> StoreAdmin,
    ClusterSettingsRecord? Settings,
    ImmutableList<AuditEntry> Audit)
{
    /// <summary>The audit log keeps the newest this many entries; older ones are deleted at apply.</summary>
    public const int MaxAuditEntries = 10_000;

    /// <summary>The replication factor of a cluster that never set one.</summary>
    public const uint DefaultReplicationFactor = 3;

    internal static readonly OperationsState Empty = new(
        ImmutableSortedDictionary.Create<string, OperationEntry>(StringComparer.Ordinal),
        ImmutableSortedDictionary.Create<string, OperationEntry>(StringComparer.Ordinal),
        ImmutableSortedDictionary<ulong, StoreAdminRecord>.Empty,
        null,
        []);

    /// <summary>Most split records kept (the oldest are dropped at apply): the scheduler looks only at recent splits.</summary>
    public const int MaxSplitRecords = 1_000;

    /// <summary>
    /// Right halves of automatic (size or load) splits, by the right range's id: what the
    /// scheduler's scatter rule reads. Operator splits are never here.
    /// </summary>
    public ImmutableSortedDictionary<ulong, SplitRecord> Splits { get; init; } = ImmutableSortedDictionary<ulong, SplitRecord>.Empty;

    /// <summary>Replicas each range should have (1 to 7); the scheduler keeps it.</summary>
    public uint ReplicationFactor => Settings is { ReplicationFactor: > 0 } s ? s.ReplicationFactor : DefaultReplicationFactor;

    /// <summary>Whether an operator paused the scheduler (it proposes nothing while paused).</summary>
    public bool SchedulerPaused => Settings?.SchedulerPaused ?? false;

    /// <summary>The seq of the newest audit entry; 0 when none was ever written.</summary>
    public ulong LastAuditSeq => Audit.IsEmpty ? 0 : Audit[^1].Seq;

    /// <summary>What operators asked of the store; ACTIVE for a store never changed (or unknown).</summary>
    public StoreAdminState AdminState(ulong storeId) =>
        StoreAdmin.TryGetValue(storeId, out var admin) ? admin.State : StoreAdminState.Active;

    /// <summary>Unix ms the store's maintenance window ends; 0 when none was set.</summary>
    public long MaintenanceUntilMs(ulong storeId) =>
        StoreAdmin.TryGetValue(storeId, out var admin) ? admin.MaintenanceUntilMs : 0;

    /// <summary>Whether the store is in a maintenance window at <paramref name="nowMs"/>: windows expire by themselves.</summary>
    public bool InMaintenance(ulong storeId, long nowMs) => MaintenanceUntilMs(storeId) > nowMs;

    /// <summary>Audit entries with at_ms at or after <paramref name="sinceMs"/>, oldest first (by seq), at most <paramref name="limit"/> (0: no limit).</summary>
    public List<AuditEntry> AuditSince(long sinceMs, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        var result = new List<AuditEntry>();
        foreach (var entry in Audit)
        {
            if (limit != 0 && result.Count >= limit)
            {
                break;
            }

            // at_ms comes from proposers whose clocks may differ, so it is filtered, not searched.
            if (entry.AtMs >= sinceMs)
            {
                result.Add(entry);
            }
        }

        return result;
    }

    /// <summary>Audit entries with seq above <paramref name="afterSeq"/>, oldest first, at most <paramref name="limit"/> (0: no limit): what a watcher has not seen.</summary>
    public List<AuditEntry> AuditAfter(ulong afterSeq, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        var result = new List<AuditEntry>();
        int lo = 0, hi = Audit.Count;
        while (lo < hi)
        {
            int mid = lo + ((hi - lo) / 2);
            if (Audit[mid].Seq <= afterSeq)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        for (int i = lo; i < Audit.Count && (limit == 0 || result.Count < limit); i++)
        {
            result.Add(Audit[i]);
        }

        return result;
    }

    /// <summary>A copy with <paramref name="entry"/> put, and in <see cref="Active"/> exactly when it is not final.</summary>
    internal OperationsState WithOperation(OperationEntry entry) => this with
    {
        Operations = Operations.SetItem(entry.Id, entry),
        Active = entry.IsFinal ? Active.Remove(entry.Id) : Active.SetItem(entry.Id, entry),
    };

    /// <summary>Cheap checks run after every apply (per-step indexes are checked where steps are written and at Load).</summary>
    [Conditional("DEBUG")]
    internal void AssertInvariants()
    {
        foreach (var (id, entry) in Operations)
        {
            Debug.Assert(entry.Id == id, $"operation {id} is indexed by its id");
            Debug.Assert(entry.Header.Plan is null && entry.PlanHead.Steps.Count == 0, $"operation {id}: steps live only in Steps");
            Debug.Assert(entry.IsFinal != Active.ContainsKey(id), $"operation {id} is active exactly when it is not final");
        }

        Debug.Assert(Active.Keys.All(Operations.ContainsKey), "every active operation is an operation");
        Debug.Assert(Audit.Count <= MaxAuditEntries, "the audit log is bounded");
        Debug.Assert(Splits.Count <= MaxSplitRecords, "the split records are bounded");
        // Checked where it can break (the newest pair; Load checks every pair), so a long log does not make every apply O(n).
        Debug.Assert(Audit.Count < 2 || Audit[^2].Seq < Audit[^1].Seq, "audit seqs increase");
    }
}
