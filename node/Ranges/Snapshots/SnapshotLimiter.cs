namespace Kv.Node.Ranges.Snapshots;

/// <summary>
/// A store's cap on concurrent snapshots (sent and received alike, or one limiter for each: the
/// caller decides). <see cref="TryAcquire"/> never waits: a store at its limit refuses the new
/// snapshot and the sender retries later, rather than queueing work that pins RocksDB snapshots
/// and disk. Every successful <see cref="TryAcquire"/> is paired with one <see cref="Release"/>.
/// Thread-safe.
/// </summary>
internal sealed class SnapshotLimiter
{
    private int _inUse; // slots currently held; 0 <= _inUse <= Maximum

    public SnapshotLimiter(int maximum)
    {
        if (maximum < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maximum), maximum, "the concurrent snapshot limit must be at least 1");
        }

        Maximum = maximum;
    }

    public int Maximum { get; }

    /// <summary>Slots held right now.</summary>
    public int InUse => Volatile.Read(ref _inUse);

    /// <summary>Takes a slot if one is free; false (and nothing taken) at the limit.</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            var current = Volatile.Read(ref _inUse);
            if (current >= Maximum)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _inUse, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    /// <summary>Returns a slot taken by <see cref="TryAcquire"/>.</summary>
    /// <exception cref="InvalidOperationException">No slot is held: a Release without its TryAcquire (a bug in the caller).</exception>
    public void Release()
    {
        while (true)
        {
            var current = Volatile.Read(ref _inUse);
            if (current <= 0)
            {
                throw new InvalidOperationException("SnapshotLimiter.Release was called with no snapshot slot held; pair every Release with a successful TryAcquire");
            }

            if (Interlocked.CompareExchange(ref _inUse, current - 1, current) == current)
            {
                return;
            }
        }
    }
}
