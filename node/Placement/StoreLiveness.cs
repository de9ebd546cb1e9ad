using Kv.Proto.V1;

namespace Kv.Node.Placement;

/// <summary>
/// Soft state of the placement leader: the last heartbeat and stats per store, and Up/Down by a
/// timeout. Not replicated: a new leader starts a fresh instance, and until a store's first
/// heartbeat it counts the takeover time as that store's heartbeat (a grace period, so a
/// failover does not mark every store Down). Pure: the clock is passed in. Thread-safe.
/// </summary>
internal sealed class StoreLiveness
{
    /// <summary>A store with no heartbeat for this long is Down.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, Entry> _stores = [];
    private readonly long _timeoutMs;

    /// <param name="takeoverMs">Unix ms at which this node became leader.</param>
    /// <param name="timeout">No heartbeat for this long means Down.</param>
    public StoreLiveness(long takeoverMs, TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        TakeoverMs = takeoverMs;
        _timeoutMs = (long)timeout.TotalMilliseconds;
    }

    /// <summary>When this leader took over (Unix ms): the grace baseline.</summary>
    public long TakeoverMs { get; }

    /// <summary>Records a heartbeat from <paramref name="storeId"/> at <paramref name="nowMs"/> (never moves a store's time back).</summary>
    public void RecordHeartbeat(ulong storeId, StoreStats? stats, long nowMs)
    {
        lock (_lock)
        {
            _stores.TryGetValue(storeId, out var previous);
            _stores[storeId] = new Entry(Math.Max(previous.LastHeartbeatMs, nowMs), stats?.Clone() ?? previous.Stats);
        }
    }

    /// <summary>What this leader knows of <paramref name="storeId"/> at <paramref name="nowMs"/>.</summary>
    public StoreLivenessInfo Get(ulong storeId, long nowMs)
    {
        Entry entry;
        lock (_lock)
        {
            _stores.TryGetValue(storeId, out entry);
        }

        long since = entry.LastHeartbeatMs != 0 ? entry.LastHeartbeatMs : TakeoverMs;
        var state = nowMs - since < _timeoutMs ? StoreState.Up : StoreState.Down;
        return new StoreLivenessInfo(state, entry.LastHeartbeatMs, entry.Stats);
    }

    private readonly record struct Entry(long LastHeartbeatMs, StoreStats? Stats);
}

/// <summary>A store's liveness: its state, the last heartbeat this leader saw (0: none since takeover) and its last stats.</summary>
internal readonly record struct StoreLivenessInfo(StoreState State, long LastHeartbeatMs, StoreStats? Stats);
