using Google.Protobuf;
using Kv.Client;
using Kv.Node.Mvcc;
using Kv.Node.Ranges.Transport;
using Kv.Proto.V1;

namespace Kv.Node.Ranges.Txn;

/// <summary>
/// The Percolator scheduler of this store's range leaders (shared/DESIGN.md sections 2 and 6):
/// every transactional command and read of <c>kv.v1.TxnKv</c> runs here, over the pure rules of
/// node/Mvcc/TxnActions; the service only decodes, validates and encodes. Writes are computed on the
/// leader, TiKV style:
///  1. take the latches of the command's keys (<see cref="Latches"/>);
///  2. wait for a ReadIndex read point whose check verifies epoch and key range;
///  3. read locks, write records and values from the engine and run the Percolator rule;
///  4. if it wrote anything, propose RangeCommand.txn_write with exactly those engine writes and
///     answer once it is applied (apply only re-checks epoch and key range); release the latches
///     after the proposal is applied or has failed, never before.
/// Why the leader's read is not stale: every command on a key is serialized by that key's latch on
/// this leader, and a command only proposes after the previous one on its keys was applied (step 4);
/// entries of earlier leaders, and of this leader before the latch was taken, are applied before the
/// ReadIndex of step 2 completes (it waits for the commit index as of a current-term read point).
/// So the state a rule reads includes every command ordered before it on its keys, and no command
/// ordered after it can be proposed from a state missing it. A proposal that fails because this
/// replica lost leadership may still commit under the next leader; that leader's ReadIndex applies
/// it before computing anything. The proposal is admitted only in the term of step 2's read: a
/// replica that lost leadership and won it back in between may have missed commands another
/// leader applied to the keys, so its computed writes are refused (RangeUnavailable, retry)
/// rather than appended after them.
/// Reads (Get, Scan, ScanLock) take a ReadIndex and read the engine, without latches.
/// Routing problems are RangeErrors in the result (and a refused command changes nothing); the
/// rules' refusals are KeyErrors. Callers validate their input first: keys non-empty and within
/// the size limit, timestamps non-zero, limits positive.
/// Hot path: a request allocates one check object (<see cref="ReadCheck"/>, a write's <see cref="Command"/>)
/// for its admission checks (steps 2 and 4, and the read term) instead of a closure per check; a write also its latch guard, the proposal
/// and its encoding. Rules are static delegates given their arguments, so no closure is made per
/// command, and latches are taken without LINQ.
/// </summary>
/// <remarks>latches: the leader's per-key latches (null: a fresh set; tests pass their own to know its slots).</remarks>
internal sealed class TxnScheduler(Store store, Func<ulong, RangeReplica?> replicaOf, IStoreResolver stores, Latches? latches = null)
{
    private static long nextProposal = Random.Shared.NextInt64();
    private readonly Latches latches = latches ?? new Latches();

    /// <summary>Steps 1-4 of the class comment: the routing refusal (and nothing written), or the rule's result.</summary>
    public async Task<TxnWriteResult<T>> WriteAsync<TArgs, T>(RangeId range, RangeEpoch? epoch, IReadOnlyList<ByteString> keys, TArgs args,
        Func<IMvccReader, MvccTxn, TArgs, T> rule, CancellationToken ct)
    {
        using var held = await latches.AcquireAsync(keys, ct).ConfigureAwait(false);
        var command = new Command(epoch, keys);
        if (await BarrierAsync(range, command, ct).ConfigureAwait(false) is { } barrierError)
        {
            return new(barrierError, default);
        }

        var txn = new MvccTxn();
        var result = rule(new EngineMvccReader(store.Engine), txn, args);
        if (txn.Writes.Count == 0)
        {
            return new(null, result);
        }

        command.Proposal = new RangeCommand { Epoch = epoch, TxnWrite = txn.ToCommand() };
        var error = await ProposeAsync(range, command).ConfigureAwait(false);
        return error is not null ? new(error, default) : new(null, result);
    }

    /// <summary>Prewrite: locks every mutation's key for startTs, or the key errors (conflicts, foreign locks) and nothing locked for them.</summary>
    public Task<TxnWriteResult<List<KeyError>>> PrewriteAsync(RangeId range, RangeEpoch? epoch, IReadOnlyList<Mutation> mutations, ByteString primary,
        Timestamp startTs, ulong lockTtlMs, IReadOnlyList<ByteString> secondaries, CancellationToken ct)
    {
        if (GcSafePointCheck.Check(startTs, store.GcSafePoint, "a transaction starting") is { } below)
        {
            return Task.FromResult(new TxnWriteResult<List<KeyError>>(null, [below]));
        }

        var keys = new List<ByteString>(mutations.Count);
        for (var i = 0; i < mutations.Count; i++)
        {
            keys.Add(mutations[i].Key);
        }

        return WriteAsync(range, epoch, keys, (mutations, primary, startTs, lockTtlMs, secondaries),
            static (reader, txn, a) => TxnActions.Prewrite(reader, txn, a.mutations, a.primary.Span, a.startTs, a.lockTtlMs, a.secondaries), ct);
    }

    /// <summary>Commit of startTs's locks on keys at commitTs.</summary>
    public Task<TxnWriteResult<KeyError?>> CommitAsync(RangeId range, RangeEpoch? epoch, IReadOnlyList<ByteString> keys, Timestamp startTs, Timestamp commitTs,
        CancellationToken ct) =>
        WriteAsync(range, epoch, keys, (keys, startTs, commitTs), static (reader, txn, a) => TxnActions.Commit(reader, txn, a.keys, a.startTs, a.commitTs), ct);

    /// <summary>Rollback of startTs on keys (protected rollback records).</summary>
    public Task<TxnWriteResult<KeyError?>> RollbackAsync(RangeId range, RangeEpoch? epoch, IReadOnlyList<ByteString> keys, Timestamp startTs, CancellationToken ct) =>
        WriteAsync(range, epoch, keys, (keys, startTs), static (reader, txn, a) => TxnActions.Rollback(reader, txn, a.keys, a.startTs), ct);

    /// <summary>CheckTxnStatus on the primary key: may roll back an expired lock (and so proposes).</summary>
    public Task<TxnWriteResult<CheckTxnStatusResponse>> CheckTxnStatusAsync(RangeId range, RangeEpoch? epoch, ByteString primary, Timestamp lockTs,
        Timestamp currentTs, bool rollbackIfNotExist, CancellationToken ct) =>
        WriteAsync(range, epoch, [primary], (primary, lockTs, currentTs, rollbackIfNotExist),
            static (reader, txn, a) => TxnActions.CheckTxnStatus(reader, txn, a.primary, a.lockTs, a.currentTs, a.rollbackIfNotExist), ct);

    /// <summary>TxnHeartBeat: extends the primary lock's TTL to adviseTtlMs (never shortens it).</summary>
    public Task<TxnWriteResult<(KeyError? Error, ulong TtlMs)>> HeartBeatAsync(RangeId range, RangeEpoch? epoch, ByteString primary, Timestamp startTs,
        ulong adviseTtlMs, CancellationToken ct) =>
        WriteAsync(range, epoch, [primary], (primary, startTs, adviseTtlMs),
            static (reader, txn, a) => TxnActions.HeartBeat(reader, txn, a.primary, a.startTs, a.adviseTtlMs), ct);

    /// <summary>
    /// ResolveLock: commits (commitTs not zero) or rolls back startTs's locks on the named keys or,
    /// when <paramref name="keys"/> is null, on every key of the range locked by startTs (at most
    /// maxLocks of them): those are found at a read point, then resolved under their latches, and a
    /// lock resolved in between is no error. <see cref="ResolveLockResult.Attempted"/> is false when
    /// that search was refused or found no lock: then nothing was proposed.
    /// </summary>
    public async Task<ResolveLockResult> ResolveLockAsync(RangeId range, RangeEpoch? epoch, IReadOnlyList<ByteString>? keys,
        Timestamp startTs, Timestamp commitTs, int maxLocks, CancellationToken ct)
    {
        var named = keys is not null;
        if (keys is null)
        {
            if (await ReadBarrierAsync(range, epoch, [], ct).ConfigureAwait(false) is { } barrierError)
            {
                return new(barrierError, null, 0, Attempted: false);
            }

            if (CurrentReplica(range, epoch, out var rangeError) is not { } replica)
            {
                return new(rangeError, null, 0, Attempted: false);
            }

            var d = replica.Descriptor;
            var found = new List<ByteString>();
            foreach (var (key, lk) in new EngineMvccReader(store.Engine).ScanLocks(d.StartKey.ToByteArray(), d.EndKey.ToByteArray()))
            {
                if (found.Count >= maxLocks)
                {
                    break;
                }

                if (lk.StartTs == startTs)
                {
                    found.Add(ByteString.CopyFrom(key));
                }
            }

            if (found.Count == 0)
            {
                return new(null, null, 0, Attempted: false);
            }

            keys = found;
        }

        var (error, (keyError, resolved)) = await WriteAsync(range, epoch, keys, (keys, startTs, commitTs, named), static (reader, txn, a) =>
        {
            var (keyError, resolved) = TxnActions.ResolveLock(reader, txn, a.keys, a.startTs, a.commitTs);
            // Locks found by the search may have been resolved before the latches were taken (then
            // nothing of the transaction is left to do); any other refusal is reported.
            return a.named || keyError?.TxnNotFound is null ? (keyError, resolved) : (null, 0u);
        }, ct).ConfigureAwait(false);
        return new(error, keyError, resolved, Attempted: true);
    }

    /// <summary>
    /// An MVCC read of key at version from a read point. A lock in the way is the key error; a
    /// routing refusal (including an epoch change during the read) comes with no value and no key error.
    /// </summary>
    public async Task<TxnGetResult> GetAsync(RangeId range, RangeEpoch? epoch, ByteString key, Timestamp version, CancellationToken ct)
    {
        if (GcSafePointCheck.Check(version, store.GcSafePoint, "a read") is { } below)
        {
            return new(null, below, null);
        }

        // The read point is awaited here rather than through BarrierAsync: one async frame less per read.
        RangeError? error;
        try
        {
            error = (RangeError?)await ReadPoint(range, new ReadCheck(epoch, key), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is GroupNotLeaderException or GroupNotFoundException)
        {
            error = RoutingError(range, e);
        }

        return error is not null ? new(error, null, null) : ReadAtReadPoint(range, epoch, key, version);
    }

    // Get after its read point, kept out of the async method so its locals stay off the heap.
    private TxnGetResult ReadAtReadPoint(RangeId range, RangeEpoch? epoch, ByteString key, Timestamp version)
    {
        var (keyError, value) = TxnActions.Get(new EngineMvccReader(store.Engine), key.Span, version);
        // The barrier checked the epoch before its wait: a split applied since may have moved the
        // key to a range led elsewhere, whose newer commits this engine need not hold. The answer
        // only stands if the epoch the client routed with held throughout (as Scan checks).
        return CurrentReplica(range, epoch, out var moved) is null ? new(moved, null, null) : new(null, keyError, value);
    }

    /// <summary>
    /// An MVCC scan at version of [start, end) clipped to the range, from one engine snapshot after
    /// a read point, adding at most limit pairs to <paramref name="pairs"/> (the caller's response,
    /// so nothing is copied). Stops at the first lock in the way (the key error). When the epoch
    /// changed during the scan the result carries the refusal and the pairs must not be answered.
    /// </summary>
    public async Task<TxnScanResult> ScanAsync(RangeId range, RangeEpoch? epoch, ByteString start, ByteString end, int limit, bool reverse,
        Timestamp version, ICollection<KvPair> pairs, CancellationToken ct)
    {
        if (GcSafePointCheck.Check(version, store.GcSafePoint, "a scan") is { } below)
        {
            return new(null, below, false);
        }

        RangeError? error;
        try
        {
            error = (RangeError?)await ReadPoint(range, new ReadCheck(epoch, []), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is GroupNotLeaderException or GroupNotFoundException)
        {
            error = RoutingError(range, e);
        }

        if (error is not null)
        {
            return new(error, null, false);
        }

        if (CurrentReplica(range, epoch, out var rangeError) is not { } replica)
        {
            return new(rangeError, null, false);
        }

        var d = replica.Descriptor;
        KeyError? keyError = null;
        var more = false;
        using (var snapshot = store.Engine.GetSnapshot())
        {
            var reader = new EngineMvccReader(store.Engine, snapshot);
            foreach (var key in reader.ScanUserKeys(Max(start, d.StartKey).ToByteArray(), Min(end, d.EndKey).ToByteArray(), reverse))
            {
                if (pairs.Count >= limit)
                {
                    more = true;
                    break;
                }

                var (lockError, value) = TxnActions.Get(reader, key, version);
                if (lockError is not null)
                {
                    keyError = lockError;
                    break;
                }

                if (value is not null)
                {
                    pairs.Add(new KvPair { Key = ByteString.CopyFrom(key), Value = UnsafeByteOperations.UnsafeWrap(value) });
                }
            }
        }

        return new(RangeBounds.SameEpoch(epoch, replica.Descriptor.Epoch) ? null : replica.EpochNotMatchError(), keyError, more);
    }

    /// <summary>
    /// The locks of [start, end) clipped to the range whose start_ts is at most maxVersion, from one
    /// engine snapshot after a read point, at most limit of them added to <paramref name="locks"/>;
    /// true in More when some were left. A refusal (also an epoch change during the scan) means the
    /// locks must not be answered.
    /// </summary>
    public async Task<(RangeError? RangeError, bool More)> ScanLocksAsync(RangeId range, RangeEpoch? epoch, ByteString start, ByteString end, int limit,
        Timestamp maxVersion, ICollection<LockInfo> locks, CancellationToken ct)
    {
        RangeError? error;
        try
        {
            error = (RangeError?)await ReadPoint(range, new ReadCheck(epoch, []), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is GroupNotLeaderException or GroupNotFoundException)
        {
            error = RoutingError(range, e);
        }

        if (error is not null)
        {
            return (error, false);
        }

        if (CurrentReplica(range, epoch, out var rangeError) is not { } replica)
        {
            return (rangeError, false);
        }

        var d = replica.Descriptor;
        var more = false;
        using (var snapshot = store.Engine.GetSnapshot())
        {
            foreach (var (key, lk) in new EngineMvccReader(store.Engine, snapshot).ScanLocks(Max(start, d.StartKey).ToByteArray(), Min(end, d.EndKey).ToByteArray()))
            {
                if (lk.StartTs > maxVersion)
                {
                    continue;
                }

                if (locks.Count >= limit)
                {
                    more = true;
                    break;
                }

                locks.Add(TxnActions.Info(key, lk));
            }
        }

        return (RangeBounds.SameEpoch(epoch, replica.Descriptor.Epoch) ? null : replica.EpochNotMatchError(), more);
    }

    /// <summary>
    /// One bounded GC batch on the range's leader: from a read point, collects the garbage of at
    /// most <paramref name="maxKeys"/> user keys of [start, range end) at <paramref name="safePoint"/>
    /// and proposes the deletes as one txn_write, so every replica drops the same records. Returns
    /// the records dropped and the key to resume at (null: the range is done).
    /// Refused (nothing dropped) when this store has not yet learned a safe point at least as high:
    /// it would otherwise still serve reads below what it drops. No latches: GC only deletes records
    /// at or below the safe point, and commands never write there any more (reads and prewrites
    /// below it are refused), so it cannot conflict with them; a record written meanwhile at or
    /// below it (a late rollback) is left to the next round.
    /// </summary>
    public async Task<(RangeError? RangeError, string? Refused, int Dropped, byte[]? Resume)> CollectGarbageAsync(RangeId range, RangeEpoch? epoch, Timestamp safePoint,
        ByteString start, int maxKeys, CancellationToken ct)
    {
        if (safePoint > store.GcSafePoint)
        {
            return (null, $"range {range.Value}: store {store.StoreId} knows GC safe point {store.GcSafePoint.Value}, below {safePoint.Value}: " +
                "publish the safe point first (the store learns it from its next heartbeat), then collect", 0, null);
        }

        var command = new Command(epoch, []);
        if (await BarrierAsync(range, command, ct).ConfigureAwait(false) is { } barrierError)
        {
            return (barrierError, null, 0, null);
        }

        if (CurrentReplica(range, epoch, out var moved) is not { } replica)
        {
            return (moved, null, 0, null);
        }

        var d = replica.Descriptor;
        var txn = new MvccTxn();
        int dropped;
        byte[]? resume;
        using (var snapshot = store.Engine.GetSnapshot())
        {
            (dropped, resume) = GcBatch.Collect(store.Engine, snapshot, Max(start, d.StartKey).ToByteArray(), d.EndKey.ToByteArray(), safePoint, maxKeys, txn);
        }

        if (txn.Writes.Count == 0)
        {
            return (null, null, 0, resume);
        }

        command.Proposal = new RangeCommand { Epoch = epoch, TxnWrite = txn.ToCommand() };
        var error = await ProposeAsync(range, command).ConfigureAwait(false);
        return error is not null ? (error, null, 0, null) : (null, null, dropped, resume);
    }

    /// <summary>
    /// Waits for a linearizable read point on the range's leader whose epoch matches and range
    /// holds every key; null when the command may proceed.
    /// </summary>
    public Task<RangeError?> ReadBarrierAsync(RangeId range, RangeEpoch? epoch, IReadOnlyList<ByteString> keys, CancellationToken ct) =>
        BarrierAsync(range, new ReadCheck(epoch, keys), ct);

    /// <summary>Step 2: the read point; the leader's term at the read goes to <see cref="ReadCheck.ReadTerm"/> (the read point is confirmed in that term).</summary>
    private async Task<RangeError?> BarrierAsync(RangeId range, ReadCheck command, CancellationToken ct)
    {
        try
        {
            return (RangeError?)await ReadPoint(range, command, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is GroupNotLeaderException or GroupNotFoundException)
        {
            return RoutingError(range, e);
        }
    }

    /// <summary>
    /// The ReadIndex read point with the command's admission check: completes with the check's
    /// refusal or null; fails with GroupNotLeaderException or GroupNotFoundException (see <see cref="RoutingError"/>).
    /// </summary>
    private Task<object?> ReadPoint(RangeId range, ReadCheck command, CancellationToken ct) =>
        store.ReadIndexAsync(range.Value, command.AdmitRead).WaitAsync(ct);

    /// <summary>The answer to a request this replica cannot serve: the leader it knows of, or that it holds no replica of the range.</summary>
    private RangeError RoutingError(RangeId range, Exception e) => e is GroupNotLeaderException notLeader
        ? RangeErrors.NotLeader(store.StoreId, replicaOf, stores, range.Value, notLeader.LeaderMemberId)
        : RangeErrors.RangeNotFound(store.StoreId, range.Value);

    /// <summary>
    /// Step 4: proposes and waits for the outcome without a cancellation token: the latches must
    /// stay held until the command is applied or has failed, even if the caller has gone.
    /// </summary>
    private async Task<RangeError?> ProposeAsync(RangeId range, Command command)
    {
        var proposal = command.Proposal!;
        proposal.ProposalId = (ulong)Interlocked.Increment(ref nextProposal);
        var data = proposal.ToByteArray();
        try
        {
            var result = await store.ProposeAsync(range.Value, proposal.ProposalId, data, command.AdmitProposal).ConfigureAwait(false);
            return (RangeError?)result;
        }
        catch (Exception e) when (e is GroupNotLeaderException or GroupNotFoundException)
        {
            return RoutingError(range, e);
        }
    }

    /// <summary>The replica if it is still at the epoch the client routed with; else null and the error.</summary>
    private RangeReplica? CurrentReplica(RangeId range, RangeEpoch? epoch, out RangeError? error)
    {
        error = null;
        if (replicaOf(range.Value) is not { } replica)
        {
            error = RangeErrors.RangeNotFound(store.StoreId, range.Value);
            return null;
        }

        if (!RangeBounds.SameEpoch(epoch, replica.Descriptor.Epoch))
        {
            error = replica.EpochNotMatchError();
            return null;
        }

        return replica;
    }

    private static ByteString Min(ByteString a, ByteString b) =>
        a.IsEmpty ? b : b.IsEmpty ? a : a.Span.SequenceCompareTo(b.Span) <= 0 ? a : b;

    private static ByteString Max(ByteString a, ByteString b) => a.Span.SequenceCompareTo(b.Span) >= 0 ? a : b;

    /// <summary>
    /// A request's read point admission check (step 2), run on the store's driver thread: epoch and
    /// key range. One object per request in place of a closure; a single key (Get) is held without a list.
    /// </summary>
    private class ReadCheck
    {
        private readonly RangeEpoch? epoch;
        private readonly ByteString? key;
        private readonly IReadOnlyList<ByteString> keys;

        public ReadCheck(RangeEpoch? epoch, IReadOnlyList<ByteString> keys)
        {
            this.epoch = epoch;
            this.keys = keys;
            AdmitRead = CheckRead;
        }

        public ReadCheck(RangeEpoch? epoch, ByteString key)
            : this(epoch, [])
        {
            this.key = key;
        }

        public Func<RaftGroup, object?> AdmitRead { get; }

        /// <summary>The leader's term when the read point was admitted; written and read on the driver thread.</summary>
        public ulong ReadTerm { get; private set; }

        private RangeError? CheckRead(RaftGroup g)
        {
            ReadTerm = g.Node.Term;
            var replica = (RangeReplica)g.Machine;
            var d = replica.Descriptor;
            if (!RangeBounds.SameEpoch(epoch, d.Epoch))
            {
                return replica.EpochNotMatchError();
            }

            if (key is not null && !RangeBounds.Contains(d, key.Span))
            {
                return RangeReplica.KeyNotInRange(d, key);
            }

            for (var i = 0; i < keys.Count; i++)
            {
                if (!RangeBounds.Contains(d, keys[i].Span))
                {
                    return RangeReplica.KeyNotInRange(d, keys[i]);
                }
            }

            return null;
        }
    }

    /// <summary>A write command's checks: the read point's (step 2) and its proposal's (step 4).</summary>
    private sealed class Command(RangeEpoch? epoch, IReadOnlyList<ByteString> keys) : ReadCheck(epoch, keys)
    {
        private Func<RaftGroup, object?>? admitProposal;

        /// <summary>Made only by a command that proposes.</summary>
        public Func<RaftGroup, object?> AdmitProposal => admitProposal ??= CheckProposal;

        /// <summary>The txn_write to propose (step 4); set after the rule ran.</summary>
        public RangeCommand? Proposal { get; set; }

        // The writes were computed from the state read in ReadTerm. If the term moved since
        // (leadership lost and won back), another leader may have applied commands to these
        // keys in between, and proposing would apply stale writes after them: refuse, and
        // let the caller retry (nothing was proposed).
        private RangeError? CheckProposal(RaftGroup g) =>
            g.Node.Term != ReadTerm ? TermChanged(((RangeReplica)g.Machine).RangeId, ReadTerm, g.Node.Term) : ((RangeReplica)g.Machine).Check(Proposal!);

        private static RangeError TermChanged(ulong rangeId, ulong readTerm, ulong term) => new()
        {
            Message = $"range {rangeId}: leadership changed (term {readTerm} -> {term}) between the read and the proposal; nothing was proposed: retry",
            RangeUnavailable = new RangeUnavailable { RangeId = rangeId },
        };
    }
}
