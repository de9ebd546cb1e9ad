using System.Text.Json.Serialization;
using Kv.Proto.V1;

namespace Kv.Client.Views;

/// <summary>A placement member: its id and the address it serves on.</summary>
public sealed record PlacementMemberView(ulong Id, string Address)
{
    public override string ToString() => $"{Id} ({Address})";
}

/// <summary>
/// The cluster as a whole, as <c>kvctl cluster status</c> shows it: identity, bootstrap, the
/// placement members and leader, how many stores are up, how many ranges exist, and the
/// replication factor (null when the admin API did not answer it).
/// </summary>
public sealed record ClusterView(
    string? ClusterId, bool Bootstrapped, DateTimeOffset? BootstrappedAt, PlacementMemberView? PlacementLeader,
    IReadOnlyList<PlacementMemberView> PlacementMembers, uint StoresUp, uint StoreCount, uint RangeCount, uint? ReplicationFactor) : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;

    [JsonPropertyOrder(-1)]
    public string Kind => "Cluster";

    /// <summary>The view of placement's answer; knownClusterId stands in when the answer's header has none.</summary>
    public static ClusterView From(GetClusterInfoResponse info, string? knownClusterId, uint? replicationFactor)
    {
        ArgumentNullException.ThrowIfNull(info);
        var clusterId = info.Header?.ClusterId is { Length: > 0 } id ? id : ViewTime.NonEmpty(knownClusterId);
        var leader = info.Leader is { MemberId: not 0 } l ? new PlacementMemberView(l.MemberId, l.Address) : null;
        return new ClusterView(clusterId, info.Bootstrapped, ViewTime.FromUnixMs(info.BootstrappedAtMs), leader,
            info.Members.Select(m => new PlacementMemberView(m.MemberId, m.Address)).ToList(),
            info.StoresUp, info.StoreCount, info.RangeCount, replicationFactor);
    }
}
