using Kv.Proto.V1;

namespace Kv.Node.Placement.Scheduler;

/// <summary>
/// What the scheduler loop tells GetSchedulerStatus: its settings, its last pass and its recent
/// events (newest first, at most <see cref="MaxRecent"/>). Soft state of this node; thread-safe.
/// </summary>
internal sealed class SchedulerStatusBoard(long storeDownReplaceAfterMs)
{
    public const int MaxRecent = 50;

    private readonly Lock _lock = new();
    private readonly LinkedList<SchedulerEvent> _recent = new();
    private long _lastPassMs;

    public long StoreDownReplaceAfterMs { get; } = storeDownReplaceAfterMs;

    /// <summary>Unix ms of the last pass on this node (0: none yet).</summary>
    public long LastPassMs => Interlocked.Read(ref _lastPassMs);

    public void Passed(long nowMs) => Interlocked.Exchange(ref _lastPassMs, nowMs);

    public void Add(SchedulerEvent e)
    {
        lock (_lock)
        {
            _recent.AddFirst(e);
            while (_recent.Count > MaxRecent)
            {
                _recent.RemoveLast();
            }
        }
    }

    /// <summary>Copies of the recent events, newest first.</summary>
    public List<SchedulerEvent> Recent()
    {
        lock (_lock)
        {
            return _recent.Select(e => e.Clone()).ToList();
        }
    }
}
