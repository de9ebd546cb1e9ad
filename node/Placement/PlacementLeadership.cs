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
    private readonly TsoLeaseOptions _lease;
    private readonly Lock _lock = new();
    private LeaderSession? _session;

    public PlacementLeadership(IPlacementGroup group, TimeProvider time, TimeSpan livenessTimeout, long tsoWindowMs, TsoLeaseOptions? lease = null)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(time);
        _group = group;
        _time = time;
        _livenessTimeout = livenessTimeout;
        _tsoWindowMs = tsoWindowMs;
        _lease = lease ?? new TsoLeaseOptions();
    }

    public IPlacementGroup Group => _group;

    public TimeProvider Time => _time;

    /// <summary>This node's monotonic clock in ms (arbitrary origin): what <see cref="TsoLease"/> measures in. Keeps running while the process is stopped.</summary>
    public long MonotonicNowMs() => (long)(_time.GetTimestamp() * (1000.0 / _time.TimestampFrequency));

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
                    new TsoAllocator(_tsoWindowMs),
                    // Read here, once this node knows it leads: e in TsoLease's argument.
                    new TsoLease(_lease.LeaseMs, _lease.MaxDriftRate, MonotonicNowMs(), _lease.UnsafeServeWithoutLease));
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

/// <summary>The TSO lease's tunables (<see cref="TsoLease"/>).</summary>
internal sealed record TsoLeaseOptions
{
    /// <summary>L: how long a quorum-confirmed heartbeat round lets the leader serve.</summary>
    public long LeaseMs { get; init; } = TsoLease.DefaultLeaseMs;

    /// <summary>rho: the bound on any member's monotonic clock rate error.</summary>
    public double MaxDriftRate { get; init; } = TsoLease.DefaultMaxDriftRate;

    /// <summary>Tests only, the negative control: serve on the local belief of leadership, without the lease.</summary>
    public bool UnsafeServeWithoutLease { get; init; }
}
