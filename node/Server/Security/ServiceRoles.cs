using Kv.Client.Security;

namespace Kv.Node.Server.Security;

/// <summary>
/// Which roles may call which RPC: the one table every call is checked against (DESIGN.md
/// section 10). A service is listed whole, or method by method where its callers differ
/// (Placement: nodes heartbeat and allocate ids, clients and operators read the directory and
/// take timestamps, operators bootstrap). Anything not listed is refused: a new service must be
/// added here before any certificate can call it.
/// </summary>
internal static class ServiceRoles
{
    private static readonly KvRole[] NodeOnly = [KvRole.Node];
    private static readonly KvRole[] AdminOnly = [KvRole.Admin];
    private static readonly KvRole[] Data = [KvRole.Client, KvRole.Admin];
    private static readonly KvRole[] Anyone = [KvRole.Node, KvRole.Admin, KvRole.Client];

    private static readonly Dictionary<string, KvRole[]> Services = new(StringComparer.Ordinal)
    {
        ["kv.v1.RaftTransport"] = NodeOnly,
        ["kv.v1.SnapshotTransport"] = NodeOnly,
        // The placement leader's executor drives operation steps on range leaders.
        ["kv.v1.RangeAdmin"] = NodeOnly,
        ["kv.v1.Admin"] = AdminOnly,
        ["kv.v1.RawKv"] = Data,
        ["kv.v1.TxnKv"] = Data,
        // Probes and tools may ask any node whether it serves, and what it serves.
        ["grpc.health.v1.Health"] = Anyone,
        ["grpc.reflection.v1alpha.ServerReflection"] = Anyone,
        ["grpc.reflection.v1.ServerReflection"] = Anyone,
    };

    private static readonly Dictionary<string, KvRole[]> PlacementMethods = new(StringComparer.Ordinal)
    {
        ["Bootstrap"] = AdminOnly,
        ["StoreHeartbeat"] = NodeOnly,
        ["RangeHeartbeat"] = NodeOnly,
        ["AllocId"] = NodeOnly,
        // Routing and timestamps: every client needs them, nodes too (stale replica checks, store addresses).
        ["GetClusterInfo"] = Anyone,
        ["ListStores"] = Anyone,
        ["GetRange"] = Anyone,
        ["GetRangeById"] = Anyone,
        ["ScanRanges"] = Anyone,
        ["GetTimestamp"] = Anyone,
    };

    /// <summary>The roles allowed to call <paramref name="service"/>/<paramref name="method"/>; empty when none is.</summary>
    public static IReadOnlyList<KvRole> Allowed(string service, string method)
    {
        if (service == "kv.v1.Placement")
        {
            return PlacementMethods.TryGetValue(method, out var placement) ? placement : [];
        }

        return Services.TryGetValue(service, out var roles) ? roles : [];
    }

    /// <summary>True for the node-to-node services whose callers must also belong to this node's cluster.</summary>
    public static bool IsNodeToNode(string service, string method) =>
        Allowed(service, method) is [KvRole.Node];
}
