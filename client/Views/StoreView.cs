using System.Text.Json.Serialization;
using Kv.Proto.V1;

namespace Kv.Client.Views;

/// <summary>
/// A store as the placement leader's admin view knows it: identity and labels, admin state
/// (active, draining, drained, removed), liveness, maintenance window, load, and the last admin
/// change (by whom, why, when). DrainOperationId is set while it drains.
/// </summary>
public sealed record StoreView(
    StoreId Id, string Address, string? StoreUuid, string? Version, IReadOnlyDictionary<string, string> Labels,
    StoreAdminStateView AdminState, StoreLivenessView Liveness, DateTimeOffset? LastHeartbeat, DateTimeOffset? DownSince,
    DateTimeOffset? MaintenanceUntil, ulong CapacityBytes, ulong AvailableBytes, ulong UsedBytes, uint RangeCount, uint LeaderCount,
    string? UpdatedBy, string? Reason, DateTimeOffset? Updated, string? DrainOperationId) : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;

    [JsonPropertyOrder(-1)]
    public string Kind => "Store";

    public static StoreView From(StoreStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var store = status.Store ?? new StoreDescriptor();
        var stats = status.Stats ?? new StoreStats();
        return new StoreView(
            new StoreId(store.StoreId), store.Address, ViewTime.NonEmpty(store.StoreUuid), ViewTime.NonEmpty(store.Version),
            new SortedDictionary<string, string>(store.Labels, StringComparer.Ordinal),
            ViewEnums.From(status.AdminState), ViewEnums.From(status.Liveness), ViewTime.FromUnixMs(status.LastHeartbeatMs),
            ViewTime.FromUnixMs(status.DownSinceMs), ViewTime.FromUnixMs(status.MaintenanceUntilMs),
            stats.CapacityBytes, stats.AvailableBytes, stats.UsedBytes, stats.RangeCount, stats.LeaderCount,
            ViewTime.NonEmpty(status.UpdatedBy), ViewTime.NonEmpty(status.Reason), ViewTime.FromUnixMs(status.UpdatedMs),
            ViewTime.NonEmpty(status.DrainOperationId));
    }
}
