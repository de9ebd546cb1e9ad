using Google.Protobuf;
using Kv.Proto.V1;

namespace Kv.Client.Cluster;

/// <summary>
/// A snapshot-isolated transaction (Percolator, shared/DESIGN.md section 6), from
/// <see cref="KvClient.BeginAsync"/>. Reads see the snapshot at <see cref="StartTs"/> plus this
/// transaction's own buffered writes, and resolve the locks of other transactions they meet
/// (<see cref="LockResolver"/>). Put, Delete and Lock are buffered in memory until
/// <see cref="CommitAsync"/>:
/// 1. the keys are grouped by range and prewritten in parallel; the first key (in byte order) is
///    the primary, and its range's request carries the other keys (secondaries). Lock TTL grows
///    with the transaction's size (<see cref="TtlFor"/>); the primary is heartbeaten every TTL/2
///    while the commit runs.
/// 2. commit_ts comes from the TSO; the primary's commit decides the transaction.
/// 3. the secondaries are committed by range in parallel in the background
///    (<see cref="SecondariesCommitted"/>); a failure there is left to lock resolution.
/// Failures: WriteConflict (retry the whole transaction), KeyIsLocked, TxnAborted,
/// CommitOutcomeUnknown. When the primary's commit was sent and no answer settled it (the answer
/// was lost, or only range errors, which do not prove it was not applied, came back before the
/// deadline), the client settles the transaction by rolling its primary back: that either wins
/// (TxnAborted) or finds the commit (success). CommitOutcomeUnknown is left for when that
/// rollback gets no answer either, or the caller cancelled; the transaction is never retried.
/// Not thread-safe: one caller uses a transaction at a time. Disposing an uncommitted
/// transaction rolls it back.
/// </summary>
public sealed class Transaction : IAsyncDisposable
{
    /// <summary>Base lock TTL of a transaction.</summary>
    public static readonly TimeSpan BaseTtl = TimeSpan.FromSeconds(3);

    /// <summary>The most a transaction's lock TTL grows to.</summary>
    public static readonly TimeSpan MaxTtl = TimeSpan.FromSeconds(120);

    private const ulong TtlPerMegabyteMs = 50;

    private readonly KvClient _client;

    // Buffered writes in key order: value null = delete.
    private readonly SortedDictionary<byte[], byte[]?> _writes = new(ByteOrder.Instance);

    // Keys locked without a write (Lock): committed as lock records, which change no value.
    private readonly SortedSet<byte[]> _lockOnly = new(ByteOrder.Instance);
    private State _state = State.Active;

    internal Transaction(KvClient client, Timestamp startTs)
    {
        _client = client;
        StartTs = startTs;
    }

    private enum State
    {
        Active,
        Committing,
        Committed,
        RolledBack,
        Failed,
    }

    /// <summary>The snapshot this transaction reads at, and its identity in locks.</summary>
    public Timestamp StartTs { get; }

    /// <summary>
    /// Completes when the background commit of the secondaries has finished (successfully or not:
    /// a failure leaves those locks to readers' resolution). Completed before CommitAsync returns
    /// for a transaction without secondaries.
    /// </summary>
    public Task SecondariesCommitted { get; private set; } = Task.CompletedTask;

    /// <summary>Number of buffered writes.</summary>
    public int WriteCount => _writes.Count;

    /// <summary>
    /// Test hook (kv-workload crash-commit stops a real client process here to be killed): awaited
    /// by the commit at <see cref="TxnCommitStage.AfterPrewrite"/> with StartTs and at
    /// <see cref="TxnCommitStage.AfterPrimaryCommit"/> with the commit_ts. The primary keeps being
    /// heartbeaten while it runs. Null (always, outside tests): the commit does nothing more.
    /// </summary>
    internal Func<TxnCommitStage, Timestamp, Task>? CommitStageHook { get; set; }

    /// <summary>
    /// The lock TTL of a transaction writing <paramref name="bytes"/> bytes of keys and values:
    /// 3 s + 50 ms per MiB, capped at 120 s.
    /// </summary>
    public static TimeSpan TtlFor(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        var ms = (ulong)BaseTtl.TotalMilliseconds + ((ulong)bytes / (1024 * 1024) * TtlPerMegabyteMs);
        return TimeSpan.FromMilliseconds(Math.Min(ms, (ulong)MaxTtl.TotalMilliseconds));
    }

    /// <summary>The value of key in this transaction: its own buffered write, else the snapshot at StartTs; null when absent.</summary>
    public async Task<byte[]?> GetAsync(ReadOnlyMemory<byte> key, CancellationToken ct = default)
    {
        ThrowIfNotActive();
        var k = KvClient.KeyOf(key, nameof(key));
        if (_writes.TryGetValue(k.ToByteArray(), out var buffered))
        {
            return buffered?.ToArray();
        }

        var op = _client.NewOperation("read a key in a transaction", ct);
        LockInfo? met = null;
        while (true)
        {
            TxnGetResponse response;
            try
            {
                (response, _) = await _client.RangeCallAsync(static (s, r, o) => s.TxnKv.GetAsync(r, o),
                    r => new TxnGetRequest { Context = r.Context, Key = k, Version = StartTs.Value },
                    r => r.RangeError, o => _client.LocateAsync(k, o), op).ConfigureAwait(false);
                if (response.Error?.Locked is { } locked)
                {
                    met = locked;
                    await _client.LockResolver.ResolveAsync(locked, op).ConfigureAwait(false);
                    continue;
                }
            }
            catch (KvException e) when (e.Kind == KvErrorKind.Unavailable && met is not null)
            {
                throw LockResolver.LockedPastDeadline(met, op, e);
            }

            if (response.Error is { } error)
            {
                ThrowIfBelowSafePoint(error);
                throw new KvException(KvErrorKind.Internal, $"reading {LockResolver.Display(k)} failed: {LockResolver.Describe(error)}");
            }

            return response.Found ? response.Value.ToByteArray() : null;
        }
    }

    /// <summary>
    /// Pairs with keys in [start, end) (empty end: to the end of the key space) at StartTs, merged
    /// with this transaction's buffered writes; ascending, or descending from just below end.
    /// At most <paramref name="limit"/> pairs (0: no limit). Continues across ranges and resolves
    /// the locks it meets.
    /// </summary>
    public async Task<IReadOnlyList<KeyValuePair<byte[], byte[]>>> ScanAsync(ReadOnlyMemory<byte> start, ReadOnlyMemory<byte> end, int limit, bool reverse = false, CancellationToken ct = default)
    {
        ThrowIfNotActive();
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (!end.IsEmpty && start.Span.SequenceCompareTo(end.Span) >= 0)
        {
            return [];
        }

        var startBytes = start.ToArray();
        var endBytes = end.ToArray();
        bool InSpan(byte[] k) => k.AsSpan().SequenceCompareTo(startBytes) >= 0 && (endBytes.Length == 0 || k.AsSpan().SequenceCompareTo(endBytes) < 0);
        var buffered = _writes.Where(w => InSpan(w.Key)).ToList();

        // Buffered deletes may hide remote pairs: read that many more.
        var deletes = buffered.Count(w => w.Value is null);
        var remote = await ScanSnapshotAsync(ByteString.CopyFrom(startBytes), ByteString.CopyFrom(endBytes), limit == 0 ? 0 : limit + deletes, reverse, ct).ConfigureAwait(false);
        var merged = new SortedDictionary<byte[], byte[]>(ByteOrder.Instance);
        foreach (var pair in remote)
        {
            merged[pair.Key.ToByteArray()] = pair.Value.ToByteArray();
        }

        // A remote page cut at the limit must not let a buffered put beyond its last key in: it
        // could displace a remote key that was not read. Only buffered keys within the read span count.
        var complete = limit == 0 || remote.Count < limit + deletes;
        var boundary = remote.Count > 0 ? remote[^1].Key.ToByteArray() : null;
        foreach (var (k, v) in buffered)
        {
            var within = complete || boundary is null || (reverse ? ByteOrder.Instance.Compare(k, boundary) >= 0 : ByteOrder.Instance.Compare(k, boundary) <= 0);
            if (v is null)
            {
                merged.Remove(k);
            }
            else if (within)
            {
                merged[k] = v.ToArray();
            }
        }

        IEnumerable<KeyValuePair<byte[], byte[]>> ordered = reverse ? merged.Reverse() : merged;
        if (limit > 0)
        {
            ordered = ordered.Take(limit);
        }

        return ordered.ToList();
    }

    /// <summary>Buffers a write of key (sent at commit).</summary>
    public void Put(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value)
    {
        ThrowIfNotActive();
        var k = KvClient.KeyOf(key, nameof(key));
        _writes[k.ToByteArray()] = value.ToArray();
    }

    /// <summary>Buffers a delete of key (sent at commit; deleting a missing key succeeds).</summary>
    public void Delete(ReadOnlyMemory<byte> key)
    {
        ThrowIfNotActive();
        var k = KvClient.KeyOf(key, nameof(key));
        _writes[k.ToByteArray()] = null;
    }

    /// <summary>
    /// Takes part in the commit on key without changing its value (SELECT ... FOR UPDATE): the
    /// commit fails with WriteConflict if another transaction wrote or locked key after this one
    /// started, and a transaction starting before this one's commit that writes or locks key
    /// conflicts with it. Lock the keys a decision was read from to rule out write skew, which
    /// snapshot isolation otherwise allows. A Put or Delete of the same key supersedes it.
    /// </summary>
    public void Lock(ReadOnlyMemory<byte> key)
    {
        ThrowIfNotActive();
        var k = KvClient.KeyOf(key, nameof(key));
        _lockOnly.Add(k.ToByteArray());
    }

    /// <summary>
    /// Commits the buffered writes atomically; returns the commit timestamp (StartTs for a
    /// read-only transaction, which commits nothing). See the class comment for the failures.
    /// A cancellation before the primary's commit was sent throws OperationCanceledException
    /// (nothing committed); one after it throws KvException CommitOutcomeUnknown, because the
    /// commit may still be applied (the client does not stay to settle it).
    /// </summary>
    public async Task<Timestamp> CommitAsync(CancellationToken ct = default)
    {
        ThrowIfNotActive();
        if (_writes.Count == 0 && _lockOnly.Count == 0)
        {
            _state = State.Committed;
            return StartTs;
        }

        _state = State.Committing;
        try
        {
            var commitTs = await CommitWritesAsync(ct).ConfigureAwait(false);
            _state = State.Committed;
            return commitTs;
        }
        catch
        {
            _state = State.Failed;
            throw;
        }
    }

    /// <summary>
    /// Discards the buffered writes. Nothing was sent before CommitAsync (a failed commit rolls
    /// back what it prewrote itself), so this changes nothing on the cluster. Idempotent.
    /// </summary>
    public Task RollbackAsync(CancellationToken ct = default)
    {
        if (_state is State.Active)
        {
            _writes.Clear();
            _lockOnly.Clear();
            _state = State.RolledBack;
        }

        return Task.CompletedTask;
    }

    /// <summary>Rolls back when not committed.</summary>
    public async ValueTask DisposeAsync() => await RollbackAsync().ConfigureAwait(false);

    /// <summary>
    /// Splits sorted keys into groups by range, in key order: each group is the run of keys the
    /// range of its first key contains. Used for prewrite, commit and rollback; a range that
    /// split since is corrected by the send itself (keys it does not hold go to the next round).
    /// </summary>
    internal static async Task<List<(CachedRange Range, List<ByteString> Keys)>> GroupByRangeAsync(IReadOnlyList<ByteString> sortedKeys, Func<ByteString, Task<CachedRange>> locate)
    {
        var groups = new List<(CachedRange, List<ByteString>)>();
        var i = 0;
        while (i < sortedKeys.Count)
        {
            var range = await locate(sortedKeys[i]).ConfigureAwait(false);
            var keys = new List<ByteString>();
            while (i < sortedKeys.Count && range.Contains(sortedKeys[i].Span))
            {
                keys.Add(sortedKeys[i++]);
            }

            if (keys.Count == 0)
            {
                throw new KvException(KvErrorKind.Internal, $"the range found for {LockResolver.Display(sortedKeys[i])} does not contain it; report this as a bug");
            }

            groups.Add((range, keys));
        }

        return groups;
    }

    private async Task<Timestamp> CommitWritesAsync(CancellationToken ct)
    {
        var mutations = new Dictionary<ByteString, Mutation>();
        var keys = new List<ByteString>(_writes.Count);
        long bytes = 0;
        foreach (var (k, v) in _writes)
        {
            var key = ByteString.CopyFrom(k);
            keys.Add(key);
            mutations[key] = v is null
                ? new Mutation { Op = MutationOp.Delete, Key = key }
                : new Mutation { Op = MutationOp.Put, Key = key, Value = ByteString.CopyFrom(v) };
            bytes += k.Length + (v?.Length ?? 0);
        }

        foreach (var k in _lockOnly.Where(k => !_writes.ContainsKey(k)))
        {
            var key = ByteString.CopyFrom(k);
            keys.Add(key);
            mutations[key] = new Mutation { Op = MutationOp.Lock, Key = key };
            bytes += k.Length;
        }

        keys.Sort(ByteStringOrder.Instance); // the primary is the smallest key
        var primary = keys[0];
        var secondaries = keys.Skip(1).ToList();
        var ttl = TtlFor(bytes);
        var op = _client.NewOperation($"commit transaction {StartTs.Value}", ct);

        using var heartbeat = new CancellationTokenSource();
        var heartbeats = HeartbeatAsync(primary, ttl, heartbeat.Token);
        try
        {
            // 1. Prewrite every group in parallel; the primary's request carries the secondaries.
            try
            {
                await PrewriteAsync(keys, mutations, primary, secondaries, ttl, op).ConfigureAwait(false);
            }
            catch (Exception e) when (e is KvException or OperationCanceledException)
            {
                // Whatever was prewritten is rolled back (best effort: expired locks are rolled
                // back by readers anyway). Nothing was committed.
                await RollbackPrewrittenAsync(keys).ConfigureAwait(false);
                throw;
            }

            if (CommitStageHook is { } afterPrewrite)
            {
                await afterPrewrite(TxnCommitStage.AfterPrewrite, StartTs).ConfigureAwait(false);
            }

            // 2. commit_ts, 3. the primary decides.
            var commitTs = await _client.GetTimestampAsync(ct).ConfigureAwait(false);
            await CommitPrimaryAsync(primary, commitTs, op).ConfigureAwait(false);
            if (CommitStageHook is { } afterPrimaryCommit)
            {
                await afterPrimaryCommit(TxnCommitStage.AfterPrimaryCommit, commitTs).ConfigureAwait(false);
            }

            // 4. Secondaries in the background.
            if (secondaries.Count > 0)
            {
                SecondariesCommitted = CommitSecondariesAsync(secondaries, commitTs);
            }

            return commitTs;
        }
        finally
        {
            await heartbeat.CancelAsync().ConfigureAwait(false);
            await heartbeats.ConfigureAwait(false);
        }
    }

    private async Task PrewriteAsync(List<ByteString> keys, Dictionary<ByteString, Mutation> mutations, ByteString primary, List<ByteString> secondaries, TimeSpan ttl, Operation op)
    {
        var pending = keys;
        while (pending.Count > 0)
        {
            var groups = await GroupByRangeAsync(pending, k => _client.LocateAsync(k, op)).ConfigureAwait(false);
            var leftovers = await Task.WhenAll(groups.Select(g => PrewriteGroupAsync(g.Keys, mutations, primary, secondaries, ttl, op))).ConfigureAwait(false);
            pending = [.. leftovers.SelectMany(l => l).Order(ByteStringOrder.Instance)];
        }
    }

    /// <summary>Prewrites the keys the range of keys[0] holds (resolving locks met); returns the keys it did not hold.</summary>
    private async Task<List<ByteString>> PrewriteGroupAsync(List<ByteString> keys, Dictionary<ByteString, Mutation> mutations, ByteString primary, List<ByteString> secondaries, TimeSpan ttl, Operation parent)
    {
        // Each group retries on its own schedule, within the commit's deadline.
        var op = _client.NewOperation(parent.What, parent.CancellationToken);
        while (true)
        {
            List<ByteString> sent = [];
            var (response, route) = await _client.RangeCallAsync(static (s, r, o) => s.TxnKv.PrewriteAsync(r, o),
                r =>
                {
                    sent = keys.Where(k => r.Contains(k.Span)).ToList();
                    var request = new PrewriteRequest { Context = r.Context, PrimaryLock = primary, StartTs = StartTs.Value, LockTtlMs = TtlFromStart(ttl, MaxPrewriteTtlMs) };
                    request.Mutations.AddRange(sent.Select(k => mutations[k]));
                    if (sent.Contains(primary))
                    {
                        request.Secondaries.AddRange(secondaries);
                    }

                    return request;
                },
                r => r.RangeError, o => _client.LocateAsync(keys[0], o), op).ConfigureAwait(false);
            if (response.Errors.Count == 0)
            {
                return keys.Where(k => !route.Contains(k.Span)).ToList();
            }

            if (response.Errors.FirstOrDefault(e => e.BelowGcSafePoint is not null) is { } below)
            {
                ThrowIfBelowSafePoint(below);
            }

            if (response.Errors.FirstOrDefault(e => e.Conflict is not null) is { } conflict)
            {
                var c = conflict.Conflict;
                throw new KvException(KvErrorKind.WriteConflict, c.ConflictStartTs == 0
                    ? $"transaction {StartTs.Value} was rolled back (by a reader that found its lock on {LockResolver.Display(c.Key)} expired) before it could commit; nothing was written: retry the transaction"
                    : $"write conflict on {LockResolver.Display(c.Key)}: transaction {c.ConflictStartTs} committed it at {c.ConflictCommitTs}, after this transaction started at {StartTs.Value}; nothing was written: retry the transaction");
            }

            var locks = response.Errors.Where(e => e.Locked is not null).Select(e => e.Locked).ToList();
            if (locks.Count != response.Errors.Count)
            {
                var other = response.Errors.First(e => e.Locked is null);
                throw new KvException(KvErrorKind.Internal, $"prewrite of transaction {StartTs.Value} was refused: {LockResolver.Describe(other)}");
            }

            foreach (var locked in locks)
            {
                if (locked.LockVersion == StartTs.Value)
                {
                    continue;
                }

                try
                {
                    await _client.LockResolver.ResolveAsync(locked, op).ConfigureAwait(false);
                }
                catch (KvException e) when (e.Kind == KvErrorKind.Unavailable)
                {
                    throw LockResolver.LockedPastDeadline(locked, op, e);
                }
            }
        }
    }

    private async Task CommitPrimaryAsync(ByteString primary, Timestamp commitTs, Operation op)
    {
        CommitResponse response;
        var sent = false;
        try
        {
            (response, _) = await _client.RangeCallAsync(static (s, r, o) => s.TxnKv.CommitAsync(r, o),
                r =>
                {
                    sent = true;
                    return new CommitRequest { Context = r.Context, StartTs = StartTs.Value, CommitTs = commitTs.Value, Keys = { primary } };
                },
                r => r.RangeError, o => _client.LocateAsync(primary, o), op,
                unknownOutcome: (address, e) => new KvException(KvErrorKind.CommitOutcomeUnknown,
                    $"the commit of transaction {StartTs.Value} was sent to {address} but its answer was lost ({e.StatusCode}: {e.Status.Detail})", e)).ConfigureAwait(false);
        }
        catch (Exception e) when (sent && (e is OperationCanceledException || (e is KvException && op.CancellationToken.IsCancellationRequested)))
        {
            // The caller gave up (during a backoff, or with the request in flight, which then
            // ends as a lost answer): settling would outlive its cancellation.
            throw Unknown(primary, $"the commit of transaction {StartTs.Value} was sent and then cancelled before its answer", e);
        }
        catch (KvException e) when (e.Kind == KvErrorKind.CommitOutcomeUnknown || (sent && e.Kind is KvErrorKind.Unavailable or KvErrorKind.Internal))
        {
            // A lost answer, or range errors until the deadline (a NotLeader may come from a
            // leader that appended the commit and lost leadership before applying it; a later
            // leader may still commit that entry): the commit may or may not be applied.
            await SettleAsync(primary, commitTs, e).ConfigureAwait(false);
            return;
        }
        catch (KvException e) when (e.Kind == KvErrorKind.Unavailable)
        {
            // No commit request was sent (no leader or address was found before the deadline).
            throw new KvException(KvErrorKind.Unavailable,
                $"{e.Message}; transaction {StartTs.Value} was not committed (its locks are rolled back by readers once their TTL passes)", e);
        }

        if (response.Error is { } error)
        {
            if (error.TxnNotFound is not null)
            {
                throw new KvException(KvErrorKind.TxnAborted,
                    $"transaction {StartTs.Value} was rolled back (a reader found its lock on {LockResolver.Display(primary)} expired) before its commit arrived; nothing of it is visible: retry the transaction");
            }

            throw new KvException(KvErrorKind.Internal, $"the commit of transaction {StartTs.Value} was refused: {LockResolver.Describe(error)}; it is not committed");
        }
    }

    /// <summary>
    /// Decides a transaction whose primary commit got no settling answer, by rolling its primary
    /// back. The rollback and any commit still in flight are serialized on the primary's range
    /// (latches, and a ReadIndex before either is computed), so exactly one of them wins:
    /// the rollback succeeds (the commit was not applied, and now never will be: TxnAborted), or
    /// it finds the commit record (AlreadyCommitted: the transaction committed, return). Only when
    /// the rollback gets no answer either is the outcome unknown (CommitOutcomeUnknown).
    /// </summary>
    private async Task SettleAsync(ByteString primary, Timestamp commitTs, KvException why)
    {
        RollbackResponse response;
        try
        {
            var op = _client.NewOperation($"settle the commit of transaction {StartTs.Value} by rolling its primary back", CancellationToken.None);
            (response, _) = await _client.RangeCallAsync(static (s, r, o) => s.TxnKv.RollbackAsync(r, o),
                r => new RollbackRequest { Context = r.Context, StartTs = StartTs.Value, Keys = { primary } },
                r => r.RangeError, o => _client.LocateAsync(primary, o), op).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KvException or ObjectDisposedException)
        {
            throw Unknown(primary, $"{why.Message}; rolling the primary back to settle it failed too ({e.Message})", why);
        }

        switch (response.Error)
        {
            case null:
                throw new KvException(KvErrorKind.TxnAborted,
                    $"{why.Message}; the client rolled the primary {LockResolver.Display(primary)} back to settle it, so transaction {StartTs.Value} is not committed and never will be: retry it", why);
            case { Committed: { } committed } when committed.CommitTs == commitTs.Value:
                return; // the commit was applied; only its answer was lost
            case { } error:
                throw Unknown(primary, $"{why.Message}; rolling the primary back to settle it was refused ({LockResolver.Describe(error)})", why);
        }
    }

    private KvException Unknown(ByteString primary, string what, Exception inner) => new(KvErrorKind.CommitOutcomeUnknown,
        $"{what}: transaction {StartTs.Value} may or may not be committed. Do not assume either: read the written keys (primary {LockResolver.Display(primary)}) to learn the outcome", inner);

    private async Task CommitSecondariesAsync(List<ByteString> secondaries, Timestamp commitTs)
    {
        try
        {
            var op = _client.NewOperation($"commit the secondaries of transaction {StartTs.Value}", CancellationToken.None);
            await ForEachRangeAsync(secondaries, op, (keys, o) => _client.RangeCallAsync(static (s, r, o) => s.TxnKv.CommitAsync(r, o),
                r => new CommitRequest { Context = r.Context, StartTs = StartTs.Value, CommitTs = commitTs.Value, Keys = { keys.Where(k => r.Contains(k.Span)) } },
                r => r.RangeError, l => _client.LocateAsync(keys[0], l), o)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KvException or ObjectDisposedException or OperationCanceledException)
        {
            // Left to lock resolution: readers find the primary committed and commit these keys.
        }
    }

    private async Task RollbackPrewrittenAsync(List<ByteString> keys)
    {
        try
        {
            var op = _client.NewOperation($"roll back transaction {StartTs.Value}", CancellationToken.None);
            await ForEachRangeAsync(keys, op, (group, o) => _client.RangeCallAsync(static (s, r, o) => s.TxnKv.RollbackAsync(r, o),
                r => new RollbackRequest { Context = r.Context, StartTs = StartTs.Value, Keys = { group.Where(k => r.Contains(k.Span)) } },
                r => r.RangeError, l => _client.LocateAsync(group[0], l), o)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KvException or ObjectDisposedException or OperationCanceledException)
        {
            // Best effort: readers roll back the locks once their TTL passes.
        }
    }

    /// <summary>Sends one request per range group in parallel (rounds until every key's range has answered).</summary>
    private async Task ForEachRangeAsync<TResponse>(List<ByteString> keys, Operation op, Func<List<ByteString>, Operation, Task<(TResponse Response, CachedRange Route)>> send)
    {
        var pending = keys;
        while (pending.Count > 0)
        {
            var groups = await GroupByRangeAsync(pending, k => _client.LocateAsync(k, op)).ConfigureAwait(false);
            var leftovers = await Task.WhenAll(groups.Select(async g =>
            {
                var (_, route) = await send(g.Keys, _client.NewOperation(op.What, op.CancellationToken)).ConfigureAwait(false);
                return g.Keys.Where(k => !route.Contains(k.Span)).ToList();
            })).ConfigureAwait(false);
            pending = [.. leftovers.SelectMany(l => l).Order(ByteStringOrder.Instance)];
        }
    }

    /// <summary>
    /// A lock's TTL counts from start_ts's physical time, so a lock written (or extended) now must
    /// ask for (now - start) + ttl: a transaction older than ttl would otherwise write locks that
    /// are expired at once, and any reader could roll it back. Capped at the server's limits
    /// (txn_kv.proto's TxnKv service refuses more): one hour for a prewrite, a day for a heartbeat.
    /// </summary>
    private ulong TtlFromStart(TimeSpan ttl, ulong limitMs)
    {
        var sinceStart = Math.Max(0, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - StartTs.PhysicalMs);
        return Math.Min((ulong)sinceStart + (ulong)ttl.TotalMilliseconds, limitMs);
    }

    private const ulong MaxPrewriteTtlMs = 3_600_000;
    private const ulong MaxHeartBeatTtlMs = 86_400_000;

    /// <summary>Every TTL/2 while the commit runs: extend the primary lock's TTL to (time since start + TTL).</summary>
    private async Task HeartbeatAsync(ByteString primary, TimeSpan ttl, CancellationToken stop)
    {
        try
        {
            while (true)
            {
                await Task.Delay(ttl / 2, stop).ConfigureAwait(false);
                var advise = TtlFromStart(ttl, MaxHeartBeatTtlMs);
                var op = _client.NewOperation($"heartbeat transaction {StartTs.Value}", stop);
                await _client.RangeCallAsync(static (s, r, o) => s.TxnKv.TxnHeartBeatAsync(r, o),
                    r => new TxnHeartBeatRequest { Context = r.Context, PrimaryLock = primary, StartTs = StartTs.Value, AdviseTtlMs = advise },
                    r => r.RangeError, o => _client.LocateAsync(primary, o), op).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is KvException or OperationCanceledException or ObjectDisposedException)
        {
            // Stopped, or failed: the commit itself reports what matters.
        }
    }

    private async Task<List<KvPair>> ScanSnapshotAsync(ByteString startKey, ByteString endKey, int limit, bool reverse, CancellationToken ct)
    {
        var results = new List<KvPair>();
        var op = _client.NewOperation("scan keys in a transaction", ct);
        var cursor = reverse ? endKey : startKey;
        LockInfo? met = null;
        while (limit == 0 || results.Count < limit)
        {
            var want = limit == 0 ? 0u : (uint)(limit - results.Count);
            var c = cursor;
            TxnScanResponse response;
            CachedRange route;
            try
            {
                (response, route) = reverse
                    ? await _client.RangeCallAsync(static (s, r, o) => s.TxnKv.ScanAsync(r, o),
                        r => new TxnScanRequest { Context = r.Context, StartKey = startKey, EndKey = c, Limit = want, Version = StartTs.Value, Reverse = true },
                        r => r.RangeError, o => _client.LocateBeforeAsync(startKey, c, o), op).ConfigureAwait(false)
                    : await _client.RangeCallAsync(static (s, r, o) => s.TxnKv.ScanAsync(r, o),
                        r => new TxnScanRequest { Context = r.Context, StartKey = c, EndKey = endKey, Limit = want, Version = StartTs.Value },
                        r => r.RangeError, o => _client.LocateAsync(c, o), op).ConfigureAwait(false);
                results.AddRange(response.Pairs);
                if (response.Error?.Locked is { } locked)
                {
                    // Resume at the lock (forward: inclusive from it; reverse: exclusive bound just above it).
                    met = locked;
                    await _client.LockResolver.ResolveAsync(locked, op).ConfigureAwait(false);
                    cursor = reverse ? KvClient.Successor(locked.Key) : locked.Key;
                    continue;
                }
            }
            catch (KvException e) when (e.Kind == KvErrorKind.Unavailable && met is not null)
            {
                throw LockResolver.LockedPastDeadline(met, op, e);
            }

            if (response.Error is { } error)
            {
                ThrowIfBelowSafePoint(error);
                throw new KvException(KvErrorKind.Internal, $"scanning failed: {LockResolver.Describe(error)}");
            }

            if (KvClient.NextScanCursor(route, response.Pairs, response.More, startKey, endKey, reverse) is not { } next)
            {
                break;
            }

            cursor = next;
        }

        if (limit > 0 && results.Count > limit)
        {
            results.RemoveRange(limit, results.Count - limit);
        }

        return results;
    }

    /// <summary>A read or prewrite refused below the GC safe point: the transaction cannot go on at its start_ts.</summary>
    private static void ThrowIfBelowSafePoint(KeyError error)
    {
        if (error.BelowGcSafePoint is { } below)
        {
            throw new KvException(KvErrorKind.BelowGcSafePoint,
                $"transaction at {below.Ts} is below the GC safe point {below.SafePoint}: versions it needs may already be collected; nothing was written: retry the transaction (it takes a new start_ts)");
        }
    }

    private void ThrowIfNotActive()
    {
        if (_state != State.Active)
        {
            throw new InvalidOperationException($"transaction {StartTs.Value} is {_state.ToString().ToLowerInvariant()}; begin a new one");
        }
    }

    /// <summary>Unsigned lexicographic byte order (the store's key order).</summary>
    internal sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }

    internal sealed class ByteStringOrder : IComparer<ByteString>
    {
        public static readonly ByteStringOrder Instance = new();

        public int Compare(ByteString? x, ByteString? y) => (x ?? ByteString.Empty).Span.SequenceCompareTo((y ?? ByteString.Empty).Span);
    }
}

/// <summary>Points of <see cref="Transaction.CommitAsync"/> where <see cref="Transaction.CommitStageHook"/> runs.</summary>
internal enum TxnCommitStage
{
    /// <summary>Every key is prewritten (locked); commit_ts is not drawn yet.</summary>
    AfterPrewrite,

    /// <summary>The primary's commit was acknowledged (the transaction is decided); the secondaries are still locked.</summary>
    AfterPrimaryCommit,
}
