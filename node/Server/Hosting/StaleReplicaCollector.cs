using Kv.Node.Ranges;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Server.Hosting;

/// <summary>
/// Finds and destroys stale replicas: a replica removed from its range while its store was down
/// (or cut off) never applies its own removal, and must not be trusted when it comes back. It is
/// recognized by epoch, not by silence alone: a replica that has not heard from a leader for
/// <c>quietAfter</c> (and, every so often, every replica that does not lead) asks placement for
/// its range; when the directory's descriptor has a higher conf_ver and no longer lists this
/// store, the replica is destroyed (its Raft state, descriptor and data span, in one write).
/// Runs off the driver thread; the destroy itself re-checks on the driver thread.
/// </summary>
internal sealed partial class StaleReplicaCollector(Store store, LocalRanges ranges, PlacementCaller placement, Func<string> clusterId,
    TimeSpan interval, TimeSpan quietAfter, ILogger logger)
{
    /// <summary>Every this many rounds, replicas that do hear a leader are checked too (a removed learner keeps its old leader).</summary>
    private const int FullCheckEvery = 30;

    /// <summary>Range id -> when it was last seen with a leader.</summary>
    private readonly Dictionary<ulong, DateTime> lastLed = [];

    public async Task RunAsync(CancellationToken ct)
    {
        var round = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, ct).ConfigureAwait(false);
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(interval * 10);
                await CollectOnceAsync(++round % FullCheckEvery == 0, attempt.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // a failed round is retried next interval; the reason is logged
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogCollectFailed(e);
            }
        }
    }

    /// <summary>One pass; returns the ranges destroyed.</summary>
    public async Task<IReadOnlyList<ulong>> CollectOnceAsync(bool checkAll, CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        var destroyed = new List<ulong>();
        foreach (var status in await store.StatusAsync().WaitAsync(ct).ConfigureAwait(false))
        {
            if (status.GroupId == PlacementGroupHost.GroupId || ranges.Get(status.GroupId) is not { } replica || status.IsLeader)
            {
                lastLed[status.GroupId] = now;
                continue;
            }

            var hasLeader = status.Lead != 0 && RangeBounds.Replica(replica.Descriptor, status.Lead) is not null;
            if (hasLeader || !lastLed.TryGetValue(status.GroupId, out var led))
            {
                led = now;
                lastLed[status.GroupId] = now;
            }

            if (!checkAll && now - led < quietAfter)
            {
                continue;
            }

            var response = await placement.CallAsync(static (s, r, o) => s.Placement.GetRangeByIdAsync(r, o),
                new GetRangeByIdRequest { Header = new RequestHeader { ClusterId = clusterId() }, RangeId = status.GroupId }, r => r.Header, ct).ConfigureAwait(false);
            if (response.Range?.Range is not { } directory || !IsStale(replica.Descriptor, directory, store.StoreId))
            {
                continue;
            }

            var gone = await store.DestroyGroupAsync(status.GroupId, g => ShouldDestroy(g, replica, directory, store.StoreId)).WaitAsync(ct).ConfigureAwait(false);
            if (gone)
            {
                lastLed.Remove(status.GroupId);
                destroyed.Add(status.GroupId);
                LogStaleDestroyed(status.GroupId, replica.Descriptor.Epoch?.ConfVer ?? 0, directory.Epoch?.ConfVer ?? 0);
            }
        }

        return destroyed;
    }

    /// <summary>
    /// Driver thread, the destroy's re-check: the group open now must still be the very replica
    /// judged stale (not one created since under the same range id: an uninitialized replica of a
    /// new member has no span, and destroying "its" data would wipe every range of the store), it
    /// must be initialized, not lead, and still be stale against the directory.
    /// </summary>
    internal static bool ShouldDestroy(RaftGroup g, RangeReplica judged, RangeDescriptor directory, ulong storeId) =>
        ReferenceEquals(g.Machine, judged)
        && judged.Descriptor.Replicas.Count > 0
        && !g.IsLeader
        && IsStale(judged.Descriptor, directory, storeId);

    /// <summary>
    /// Stale: the directory has a newer membership (higher conf_ver) that no longer lists this
    /// store's replica: the store is gone from it, or holds a replica under another id (the range
    /// added this store again after removing it; replica ids are never reused).
    /// </summary>
    public static bool IsStale(RangeDescriptor local, RangeDescriptor directory, ulong storeId)
    {
        var mine = local.Replicas.FirstOrDefault(r => r.StoreId == storeId)?.ReplicaId ?? 0;
        return directory.RangeId == local.RangeId
            && (directory.Epoch?.ConfVer ?? 0) > (local.Epoch?.ConfVer ?? 0)
            && directory.Replicas.All(r => r.ReplicaId != mine || r.StoreId != storeId);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "stale replica check failed; retrying")]
    private partial void LogCollectFailed(Exception e);

    [LoggerMessage(Level = LogLevel.Information, Message = "range {RangeId}: destroyed this store's stale replica (local conf_ver {LocalConfVer}; placement has conf_ver {DirectoryConfVer} without this store)")]
    private partial void LogStaleDestroyed(ulong rangeId, ulong localConfVer, ulong directoryConfVer);
}
