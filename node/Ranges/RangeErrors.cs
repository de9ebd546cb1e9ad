using Kv.Node.Ranges.Transport;
using Kv.Proto.V1;

namespace Kv.Node.Ranges;

/// <summary>
/// The routing errors every range request is answered with (the services' and the Percolator
/// scheduler's), worded once. They live in Ranges because they describe this store's replicas.
/// </summary>
internal static class RangeErrors
{
    public static RangeError NotLeader(ulong storeId, Func<ulong, RangeReplica?> replicaOf, IStoreResolver stores, ulong rangeId, ulong leaderReplicaId)
    {
        var error = new NotLeader { RangeId = rangeId };
        var leader = leaderReplicaId == 0 ? null : replicaOf(rangeId) is { } r ? RangeBounds.Replica(r.Descriptor, leaderReplicaId) : null;
        if (leader is not null)
        {
            error.Leader = leader;
            error.LeaderAddress = stores.AddressOf(leader.StoreId) ?? "";
        }

        return new RangeError
        {
            Message = leader is null
                ? $"store {storeId} does not lead range {rangeId} and knows no leader yet (election in progress?); retry after a short backoff"
                : $"store {storeId} does not lead range {rangeId}; its leader is replica {leader.ReplicaId} on store {leader.StoreId}",
            NotLeader = error,
        };
    }

    public static RangeError RangeNotFound(ulong storeId, ulong rangeId) => new()
    {
        Message = $"store {storeId} has no replica of range {rangeId}; refresh the route from placement",
        RangeNotFound = new RangeNotFound { RangeId = rangeId },
    };
}
