using System.Text.Json.Serialization;
using Kv.Proto.V1;

namespace Kv.Client.Views;

/// <summary>A range epoch: ConfVer bumps on every membership change, Version on every split or merge.</summary>
public sealed record EpochView(ulong ConfVer, ulong Version)
{
    /// <summary>Null for an absent epoch (the proto's "none").</summary>
    public static EpochView? From(RangeEpoch? epoch) => epoch is null ? null : new EpochView(epoch.ConfVer, epoch.Version);

    public override string ToString() => $"v{Version}/c{ConfVer}";
}

/// <summary>One member of a range's Raft group.</summary>
public sealed record ReplicaView(ReplicaId ReplicaId, StoreId StoreId, ReplicaRoleView Role)
{
    public static ReplicaView From(ReplicaDescriptor replica)
    {
        ArgumentNullException.ThrowIfNull(replica);
        return new ReplicaView(new ReplicaId(replica.ReplicaId), new StoreId(replica.StoreId), ViewEnums.From(replica.Role));
    }
}

/// <summary>
/// A range as placement's directory knows it. Keys are printable UTF-8, or 0x-hex when they are
/// not (KeyFormat); an empty end key is the end of the key space.
/// </summary>
public sealed record RangeView(
    RangeId Id, string StartKey, string EndKey, EpochView? Epoch, IReadOnlyList<ReplicaView> Replicas,
    ReplicaView? Leader, string? LeaderAddress, ulong ApproximateSizeBytes) : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;

    [JsonPropertyOrder(-1)]
    public string Kind => "Range";

    public static RangeView From(RangeInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        var d = info.Range ?? new RangeDescriptor();
        var leader = info.Leader is { ReplicaId: not 0 } or { StoreId: not 0 } ? ReplicaView.From(info.Leader) : null;
        return new RangeView(
            new RangeId(d.RangeId), KeyFormat.Printable(d.StartKey.Span), KeyFormat.Printable(d.EndKey.Span), EpochView.From(d.Epoch),
            [.. d.Replicas.Select(ReplicaView.From)], leader, ViewTime.NonEmpty(info.LeaderAddress), info.ApproximateSizeBytes);
    }
}
