namespace Kv.Workload;

/// <summary>Ways MemoryTxnStore can be deliberately wrong, to show the checkers catch it.</summary>
[Flags]
public enum StoreBugs
{
    None = 0,

    /// <summary>Commit never reports a write-write conflict (no first-committer-wins).</summary>
    NoConflictDetection = 1,

    /// <summary>Commit silently drops some writes of a transaction.</summary>
    LoseWrites = 2,

    /// <summary>Reads see the latest committed version, not the start_ts snapshot.</summary>
    ReadLatest = 4,

    /// <summary>A third of the transactions get a start_ts below timestamps already handed out (a
    /// timestamp oracle serving from a paused old leader): they read an old snapshot.</summary>
    StaleSnapshot = 8,

    /// <summary>Two sites (parallel snapshot isolation): a commit is visible at once on its own
    /// site and on the other only 24 clock ticks later, so two readers can see two concurrent
    /// commits in opposite orders (a long fork). Write conflicts stay global: no lost updates.</summary>
    LongFork = 16,

    /// <summary>A quarter of the scans return one row twice (a scan resumed at a range boundary without skipping the row it ended on).</summary>
    DuplicateRow = 32,
}

/// <summary>An in-memory snapshot-isolation store behind one global lock: a transaction reads the
/// versions committed at or before its start_ts (plus its own writes), and commit fails with a
/// conflict when another transaction committed a write to one of its keys after its start_ts
/// (first committer wins). Optional bugs make it wrong on purpose.</summary>
public sealed class MemoryTxnStore : ITxnStore
{
    private readonly Lock _lock = new();
    /// <summary>Under <see cref="StoreBugs.LongFork"/>, how many clock ticks a commit takes to reach the other site.</summary>
    private const ulong ForkLag = 24;

    // Site: the LongFork site of the committing transaction (always 0 otherwise).
    private readonly SortedDictionary<string, List<(ulong Ts, byte[]? Value, int Site)>> _versions = new(StringComparer.Ordinal);
    private readonly StoreBugs _bugs;
    private readonly Random _random;
    private ulong _clock;

    public MemoryTxnStore(StoreBugs bugs = StoreBugs.None, int seed = 1)
    {
        _bugs = bugs;
        _random = new Random(seed);
    }

    public Task<ITxn> BeginAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var startTs = ++_clock;
            if ((_bugs & StoreBugs.StaleSnapshot) != 0 && _random.Next(3) == 0)
            {
                startTs = (ulong)Math.Max(1, (long)startTs - 1 - _random.Next(10));
            }

            var site = (_bugs & StoreBugs.LongFork) != 0 ? _random.Next(2) : 0;
            return Task.FromResult<ITxn>(new MemoryTxn(this, startTs, site));
        }
    }

    private static string K(ReadOnlySpan<byte> key) => Convert.ToHexString(key);

    /// <summary>Whether a version is in the snapshot of a transaction of <paramref name="site"/> at <paramref name="startTs"/>.</summary>
    private bool Visible((ulong Ts, byte[]? Value, int Site) version, ulong startTs, int site) =>
        (_bugs & StoreBugs.ReadLatest) != 0
        || (version.Ts <= startTs && (version.Site == site || version.Ts + ((_bugs & StoreBugs.LongFork) != 0 ? ForkLag : 0) <= startTs));

    private byte[]? Read(string key, ulong startTs, int site)
    {
        lock (_lock)
        {
            if (!_versions.TryGetValue(key, out var versions))
            {
                return null;
            }
            for (var i = versions.Count - 1; i >= 0; i--)
            {
                if (Visible(versions[i], startTs, site))
                {
                    return versions[i].Value;
                }
            }
            return null;
        }
    }

    private List<string> Keys()
    {
        lock (_lock)
        {
            return [.. _versions.Keys];
        }
    }

    private ulong Commit(ulong startTs, int site, Dictionary<string, byte[]?> writes)
    {
        lock (_lock)
        {
            if ((_bugs & StoreBugs.NoConflictDetection) == 0)
            {
                foreach (var key in writes.Keys)
                {
                    // First committer wins: a version this transaction could not see (newer, or not yet on its site) conflicts.
                    if (_versions.TryGetValue(key, out var versions) && versions.Count > 0 && (versions[^1].Ts > startTs || !Visible(versions[^1], startTs, site)))
                    {
                        throw new TxnStoreException(TxnFailure.Definite, "write conflict on key " + key);
                    }
                }
            }
            var commitTs = ++_clock;
            foreach (var (key, value) in writes)
            {
                if ((_bugs & StoreBugs.LoseWrites) != 0 && _random.Next(4) == 0)
                {
                    continue;
                }
                if (!_versions.TryGetValue(key, out var versions))
                {
                    versions = [];
                    _versions[key] = versions;
                }
                versions.Add((commitTs, value, site));
            }
            return commitTs;
        }
    }

    /// <summary>Under <see cref="StoreBugs.DuplicateRow"/>: whether this scan repeats a row, and which.</summary>
    private int DuplicateAt(int rows)
    {
        lock (_lock)
        {
            return (_bugs & StoreBugs.DuplicateRow) != 0 && rows > 0 && _random.Next(4) == 0 ? _random.Next(rows) : -1;
        }
    }

    private sealed class MemoryTxn(MemoryTxnStore store, ulong startTs, int site) : ITxn
    {
        private readonly Dictionary<string, byte[]?> _writes = new(StringComparer.Ordinal);
        private bool _done;

        public ulong StartTs { get; } = startTs;

        public async Task<byte[]?> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default)
        {
            await Task.Yield(); // let other transactions interleave
            Check();
            var k = K(key.Span);
            return _writes.TryGetValue(k, out var own) ? own : store.Read(k, StartTs, site);
        }

        public async Task<IReadOnlyList<KeyValuePair<byte[], byte[]>>> ScanAsync(
            ReadOnlyMemory<byte> start, ReadOnlyMemory<byte> end, int limit, bool reverse = false, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            Check();
            string s = K(start.Span), e = K(end.Span);
            var keys = store.Keys().Concat(_writes.Keys).Distinct()
                .Where(k => string.CompareOrdinal(k, s) >= 0 && (e.Length == 0 || string.CompareOrdinal(k, e) < 0))
                .Order(StringComparer.Ordinal).ToList();
            if (reverse)
            {
                keys.Reverse();
            }
            var result = new List<KeyValuePair<byte[], byte[]>>();
            foreach (var k in keys)
            {
                var value = _writes.TryGetValue(k, out var own) ? own : store.Read(k, StartTs, site);
                if (value is not null)
                {
                    result.Add(new(Convert.FromHexString(k), value));
                    if (result.Count == limit)
                    {
                        break;
                    }
                }
            }
            if (store.DuplicateAt(result.Count) is var dup and >= 0)
            {
                result.Insert(dup + 1, result[dup]);
            }
            return result;
        }

        public void Put(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value)
        {
            Check();
            _writes[K(key.Span)] = value.ToArray();
        }

        public void Delete(ReadOnlyMemory<byte> key)
        {
            Check();
            _writes[K(key.Span)] = null;
        }

        public async Task<ulong> CommitAsync(CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            Check();
            _done = true;
            return _writes.Count == 0 ? StartTs : store.Commit(StartTs, site, _writes);
        }

        public Task RollbackAsync(CancellationToken cancellationToken = default)
        {
            _done = true;
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _done = true;
            return ValueTask.CompletedTask;
        }

        private void Check()
        {
            if (_done)
            {
                throw new InvalidOperationException("the transaction is finished; begin a new one");
            }
        }
    }
}
