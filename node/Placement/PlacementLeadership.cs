namespace Kv.Node.Placement;

/// <summary>
/// The placement leader's per-term soft state (<see cref="LeaderSession"/>), shared by everything
/// that works only on the leader: the Placement service (liveness, range leaders, TSO), the
/// operations front the Admin service calls, the executor and the scheduler. A new term starts a
/// fresh session (stores get a grace period from the takeover time). Thread-safe.
/// </summary>
internal sealed class PlacementLeadership
{
    private readonly IPlacementGroup _group;
    private readonly TimeProvider _time;
    private readonly TimeSpan _livenessTimeout;
    private readonly long _tsoWindowMs;
    private readonly Lock _lock = new();
    private LeaderSession? _session;

    public PlacementLeadership(IPlacementGroup group, TimeProvider time, TimeSpan livenessTimeout, long tsoWindowMs)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(time);
        _group = group;
        _time = time;
        _livenessTimeout = livenessTimeout;
        _tsoWindowMs = tsoWindowMs;
    }

    public IPlacementGroup Group => _group;

    public TimeProvider Time => _time;

    /// <summary>Called (under no lock a caller holds) when this node starts leading a new term: the term.</summary>
    public event Action<ulong>? SessionStarted;

    /// <summary>This term's session; null when this node does not lead. A new term starts a fresh one.</summary>
    public LeaderSession? Current()
    {
        ulong term = _group.LeaderTerm;
        if (term == 0)
        {
            return null;
        }

        LeaderSession session;
        bool started = false;
        lock (_lock)
        {
            if (_session is null || _session.Term != term)
            {
                long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
                _session = new LeaderSession(term,
                    new StoreLiveness(now, _livenessTimeout),
                    new RangeLeaders(),
                    new TsoAllocator(_tsoWindowMs));
                started = true;
            }

            session = _session;
        }

        if (started)
        {
            SessionStarted?.Invoke(term);
        }

        return session;
    }
}
