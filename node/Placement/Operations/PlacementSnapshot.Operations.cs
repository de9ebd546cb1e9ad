using System.Collections.Immutable;
using Kv.Node.Placement.Operations;
using Kv.Proto.V1;

namespace Kv.Node.Placement;

/// <summary>What readers of a <see cref="PlacementSnapshot"/> ask about operations, stores' admin state, settings and the audit log (forwarded to <see cref="Ops"/>).</summary>
internal sealed partial record PlacementSnapshot
{
    /// <summary>Every operation by id (finished ones too). Entries are frozen: use <see cref="OperationEntry.ToRecord"/> for a copy.</summary>
    public ImmutableSortedDictionary<string, OperationEntry> Operations => Ops.Operations;

    /// <summary>Operations not yet finished (Pending or Running), by id: what a new executor resumes.</summary>
    public ImmutableSortedDictionary<string, OperationEntry> ActiveOperations => Ops.Active;

    public uint ReplicationFactor => Ops.ReplicationFactor;

    public bool SchedulerPaused => Ops.SchedulerPaused;

    public StoreAdminState StoreAdminState(ulong storeId) => Ops.AdminState(storeId);

    /// <summary>Whether the store is in a maintenance window at <paramref name="nowMs"/> (the caller's clock; windows expire by themselves).</summary>
    public bool InMaintenance(ulong storeId, long nowMs) => Ops.InMaintenance(storeId, nowMs);

    /// <summary>The audit log, oldest first (at most <see cref="OperationsState.MaxAuditEntries"/> entries).</summary>
    public ImmutableList<AuditEntry> AuditLog => Ops.Audit;

    /// <summary>Audit entries at or after <paramref name="sinceMs"/>, oldest first, at most <paramref name="limit"/> (0: all).</summary>
    public List<AuditEntry> AuditSince(long sinceMs, int limit) => Ops.AuditSince(sinceMs, limit);
}
