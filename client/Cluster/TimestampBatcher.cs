namespace Kv.Client.Cluster;

/// <summary>
/// Batches timestamp requests: while one GetTimestamp RPC is in flight, callers queue; the next
/// RPC asks for as many timestamps as there are waiters (up to the batch cap) and hands them out
/// in arrival order. Ordering contract:
/// 1. The oracle answers a batch with the count consecutive values ending at last, each greater
///    than anything it handed out before (placement.proto).
/// 2. Batches are requested one at a time, so a batch's values follow the previous batch's.
/// 3. <see cref="Distribute"/> refuses a batch that does not start after the last value handed
///    out, so a caller that asks again always gets a larger timestamp.
/// </summary>
internal sealed class TimestampBatcher
{
    private readonly Func<uint, Task<(ulong Last, uint Count)>> _fetch;
    private readonly int _maxBatch;
    private readonly object _gate = new();

    // Waiters not yet in a batch, in arrival order.
    private readonly List<TaskCompletionSource<Timestamp>> _pending = [];

    // True while the flush loop runs; the loop is the only writer of _lastIssued.
    private bool _flushing;
    private Timestamp _lastIssued;

    /// <param name="fetch">Asks the oracle for count timestamps; returns (last, count) or throws.</param>
    /// <param name="maxBatch">Most timestamps one RPC asks for.</param>
    public TimestampBatcher(Func<uint, Task<(ulong Last, uint Count)>> fetch, int maxBatch)
    {
        _fetch = fetch;
        _maxBatch = maxBatch;
    }

    /// <summary>Waiters queued behind the RPC in flight (tests).</summary>
    internal int PendingCount
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>RPCs sent so far (tests, metrics).</summary>
    internal int Batches { get; private set; }

    public Task<Timestamp> GetAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var waiter = new TaskCompletionSource<Timestamp>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool start;
        lock (_gate)
        {
            _pending.Add(waiter);
            start = !_flushing;
            _flushing = true;
        }

        if (start)
        {
            _ = Task.Run(FlushAsync, CancellationToken.None);
        }

        // A caller that gives up stops waiting; its timestamp, if it arrives, is simply unused.
        return cancellationToken.CanBeCanceled ? waiter.Task.WaitAsync(cancellationToken) : waiter.Task;
    }

    private async Task FlushAsync()
    {
        while (true)
        {
            List<TaskCompletionSource<Timestamp>> batch;
            lock (_gate)
            {
                if (_pending.Count == 0)
                {
                    _flushing = false;
                    return;
                }

                var take = Math.Min(_pending.Count, _maxBatch);
                batch = _pending.GetRange(0, take);
                _pending.RemoveRange(0, take);
            }

            try
            {
                Batches++;
                var (last, count) = await _fetch((uint)batch.Count).ConfigureAwait(false);
                var stamps = Distribute(last, count, batch.Count, _lastIssued);
                _lastIssued = stamps[^1];
                for (var i = 0; i < stamps.Length; i++)
                {
                    batch[i].TrySetResult(stamps[i]);
                }

                if (stamps.Length < batch.Count)
                {
                    // The oracle granted fewer than asked: the rest go first in the next batch.
                    lock (_gate)
                    {
                        _pending.InsertRange(0, batch.GetRange(stamps.Length, batch.Count - stamps.Length));
                    }
                }
            }
#pragma warning disable CA1031 // every failure belongs to the waiters of this batch, not to this loop
            catch (Exception e)
#pragma warning restore CA1031
            {
                foreach (var waiter in batch)
                {
                    waiter.TrySetException(e);
                }
            }
        }
    }

    /// <summary>
    /// The timestamps of one batch for <paramref name="waiters"/> callers, in arrival order: the
    /// answer holds <paramref name="count"/> consecutive values ending at <paramref name="last"/>;
    /// the first min(count, waiters) of them are used. Throws when the answer is malformed or does
    /// not start after <paramref name="lastIssued"/>.
    /// </summary>
    internal static Timestamp[] Distribute(ulong last, uint count, int waiters, Timestamp lastIssued)
    {
        if (count == 0 || waiters <= 0)
        {
            throw new KvException(KvErrorKind.Internal, $"the timestamp oracle answered a batch of {count} for {waiters} waiters; expected at least one timestamp");
        }

        if (last < count - 1)
        {
            throw new KvException(KvErrorKind.Internal, $"the timestamp oracle answered last={last} with count={count}, which would start below zero");
        }

        var first = last - count + 1;
        if (first <= lastIssued.Value)
        {
            throw new KvException(KvErrorKind.Internal,
                $"the timestamp oracle went backwards: batch starts at {first}, but {lastIssued.Value} was already handed out; report this as a bug");
        }

        var n = (int)Math.Min(count, (uint)waiters);
        var stamps = new Timestamp[n];
        for (var i = 0; i < n; i++)
        {
            stamps[i] = new Timestamp(first + (ulong)i);
        }

        return stamps;
    }
}
