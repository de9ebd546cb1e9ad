using Kv.Node.Ranges.Changes;
using Kv.Proto.V1;

namespace Kv.Node.Server.Hosting;

/// <summary>The replica-change engine's view of placement (<see cref="IChangePlacement"/>), over the node's placement client.</summary>
internal sealed class PlacementChangeDirectory(PlacementCaller placement, StoreDirectory directory, Func<string> clusterId) : IChangePlacement
{
    public async Task<(ulong First, string? Error)> AllocIdsAsync(uint count, CancellationToken ct)
    {
        var response = await placement.CallAsync(static (s, r, o) => s.Placement.AllocIdAsync(r, o),
            new AllocIdRequest { Header = Header(), Count = count }, r => r.Header, ct).ConfigureAwait(false);
        if (response.Header?.Error is { Code: not PlacementErrorCode.PlacementErrorNone } error)
        {
            return (0, error.Message);
        }

        return response.Count < count ? (0, $"{response.Count} of {count} ids") : (response.First, null);
    }

    public async Task<TargetStore?> DescribeStoreAsync(ulong storeId, CancellationToken ct)
    {
        var response = await placement.CallAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest { Header = Header() }, r => r.Header, ct).ConfigureAwait(false);
        if (response.Header?.Error is { Code: not PlacementErrorCode.PlacementErrorNone })
        {
            return null;
        }

        var info = response.Stores.FirstOrDefault(s => s.Store.StoreId == storeId);
        if (info is null)
        {
            return new TargetStore(false, StoreState.Unknown, string.Join(", ", response.Stores.Select(s => s.Store.StoreId)));
        }

        directory.Learn(storeId, info.Store.Address);
        return new TargetStore(true, info.State, "");
    }

    public Task ReportRangeAsync(RangeDescriptor range, ReplicaDescriptor leader, CancellationToken ct, SplitOrigin? split = null) =>
        placement.CallAsync(static (s, r, o) => s.Placement.RangeHeartbeatAsync(r, o),
            new RangeHeartbeatRequest { Header = Header(), Range = range, Leader = leader, Split = split }, r => r.Header, ct);

    private RequestHeader Header() => new() { ClusterId = clusterId() };
}
