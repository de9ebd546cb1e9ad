using Google.Protobuf;
using Kv.Proto.V1;

namespace Kv.Node.Placement;

/// <summary>
/// The range a bootstrap creates: the whole key space, on the first placement members, at most
/// <see cref="DefaultReplicationFactor"/> of them. Pure (no I/O): the placement leader builds it
/// once and proposes it in the BootstrapCommand.
///
/// Why not every member: a 5-member placement group would otherwise give range 1 five replicas,
/// and every split copies its parent's replicas (same stores, same roles: RangeReplica's split
/// apply), so the whole cluster would run at five. Members hold placement; how many copies of the
/// data exist is the replication factor's business.
/// </summary>
internal static class FirstRange
{
    /// <summary>
    /// Replicas of every range unless the cluster says otherwise. The cluster-wide replication
    /// factor (a placement setting the scheduler keeps) replaces this constant; until then
    /// bootstrap uses it.
    /// </summary>
    public const int DefaultReplicationFactor = 3;

    /// <summary>The first range's id.</summary>
    public const ulong RangeId = 1;

    /// <summary>
    /// Range 1 over the whole key space, epoch (conf_ver 1, version 1), with voters on the first
    /// min(<paramref name="replicationFactor"/>, member count) members in member-id order; each
    /// replica's id is its member id (member id = store id). Throws on no members or a factor below 1
    /// (callers check both; the bootstrap command's own validation catches the rest).
    /// </summary>
    public static RangeDescriptor Build(IReadOnlyList<PlacementMember> members, int replicationFactor = DefaultReplicationFactor)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicationFactor, 1);
        if (members.Count == 0)
        {
            throw new ArgumentException("no placement members: the first range needs at least one store", nameof(members));
        }

        var range = new RangeDescriptor
        {
            RangeId = RangeId,
            StartKey = ByteString.Empty,
            EndKey = ByteString.Empty,
            Epoch = new RangeEpoch { ConfVer = 1, Version = 1 },
        };
        foreach (var member in members.OrderBy(m => m.MemberId).Take(replicationFactor))
        {
            range.Replicas.Add(new ReplicaDescriptor { ReplicaId = member.MemberId, StoreId = member.MemberId, Role = ReplicaRole.Voter });
        }

        return range;
    }
}
