using Google.Protobuf;
using Kv.Client;
using Kv.Node.Tests.ClientReactions;
using Kv.Proto.V1;

namespace Kv.Cli.Tests;

/// <summary>
/// An in-memory Percolator store scripted onto a <see cref="ScriptedNode"/>: one range holding
/// every key, led by the node itself, a TSO on the wall clock, and kv.v1.TxnKv with the
/// semantics txn_kv.proto states (snapshot reads reporting foreign locks, all-or-nothing
/// prewrite refusing on newer writes, rollback records and foreign locks, commit idempotent and
/// txn_not_found without a lock, CheckTxnStatus rolling back expired primaries and, with
/// rollback_if_not_exist, missing ones; ResolveLock; TxnHeartBeat never shortening a TTL).
/// Tests read and plant its state directly.
/// </summary>
internal sealed class FakeTxnKv
{
    private readonly object _gate = new();
    private readonly SortedDictionary<string, LockInfo> _locks = new(StringComparer.Ordinal);

    // Per key, newest first: (commit_ts, start_ts, kind, value); kind "rollback" has commit_ts = start_ts.
    private readonly Dictionary<string, List<Write>> _writes = new(StringComparer.Ordinal);
    private ulong _lastTs;

    private FakeTxnKv(ScriptedNode node)
    {
        var range = new RangeDescriptor { RangeId = 1, Epoch = new RangeEpoch { ConfVer = 1, Version = 1 }, Replicas = { new ReplicaDescriptor { ReplicaId = 1, StoreId = 1 } } };
        var info = new RangeInfo { Range = range, Leader = range.Replicas[0], LeaderAddress = node.Address };
        node.On(PlacementMethods.GetRange, _ => new GetRangeResponse { Header = new ResponseHeader { ClusterId = "c" }, Range = info });
        node.On(PlacementMethods.ScanRanges, _ => new ScanRangesResponse { Header = new ResponseHeader { ClusterId = "c" }, Ranges = { info } });
        node.On(PlacementMethods.GetTimestamp, r => new GetTimestampResponse { Header = new ResponseHeader { ClusterId = "c" }, Last = Next(r.Count), Count = r.Count });
        node.On(TxnKvMethods.Get, r => Locked(() => Get(r)));
        node.On(TxnKvMethods.Scan, r => Locked(() => Scan(r)));
        node.On(TxnKvMethods.Prewrite, r => Locked(() => Prewrite(r)));
        node.OnAsync<CommitRequest, CommitResponse>(TxnKvMethods.Commit, async (r, context) =>
        {
            if (LoseCommitAnswer?.Invoke(r) == true)
            {
                // Applied, but the answer never comes: wait until the caller gives up.
                Locked(() => Commit(r));
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }

            if (SwallowCommit?.Invoke(r) == true)
            {
                // Not applied, and the answer never comes: wait until the caller gives up.
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }

            if (CommitRangeError?.Invoke(r) is { } rangeError)
            {
                return new CommitResponse { RangeError = rangeError };
            }

            BeforeCommit?.Invoke(r);
            return Locked(() => Commit(r));
        });
        node.OnAsync<RollbackRequest, RollbackResponse>(TxnKvMethods.Rollback, async (r, context) =>
        {
            if (SwallowRollback)
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }

            return Locked(() => Rollback(r));
        });
        node.On(TxnKvMethods.CheckTxnStatus, r => Locked(() => CheckTxnStatus(r)));
        node.On(TxnKvMethods.ResolveLock, r => Locked(() => ResolveLock(r)));
        node.On(TxnKvMethods.TxnHeartBeat, r => Locked(() => HeartBeat(r)));
    }

    private sealed record Write(ulong CommitTs, ulong StartTs, string Kind, ByteString Value);

    /// <summary>When it returns true for a commit request, the node neither applies nor answers it.</summary>
    public Func<CommitRequest, bool>? SwallowCommit { get; set; }

    /// <summary>When it returns true for a commit request, the node applies it and never answers.</summary>
    public Func<CommitRequest, bool>? LoseCommitAnswer { get; set; }

    /// <summary>When true, the node never answers (or applies) a rollback request.</summary>
    public bool SwallowRollback { get; set; }

    /// <summary>
    /// When it returns a range error for a commit request, the node answers with it and applies
    /// nothing (as a leader that appended the commit and lost leadership before applying it does:
    /// the answer does not say whether a later leader commits the entry).
    /// </summary>
    public Func<CommitRequest, RangeError?>? CommitRangeError { get; set; }

    /// <summary>Runs before a commit request is applied (for example to roll the transaction back first).</summary>
    public Action<CommitRequest>? BeforeCommit { get; set; }

    public static FakeTxnKv Install(ScriptedNode node) => new(node);

    public static string K(ByteString key) => Convert.ToHexString(key.Span);

    public ulong Now() => Next(1);

    /// <summary>The committed value of key at version (null: absent), ignoring locks.</summary>
    public string? ValueAt(string key, ulong version = ulong.MaxValue)
    {
        lock (_gate)
        {
            var w = Visible(K(ByteString.CopyFromUtf8(key)), version);
            return w is { Kind: "put" } ? w.Value.ToStringUtf8() : null;
        }
    }

    public int LockCount
    {
        get
        {
            lock (_gate)
            {
                return _locks.Count;
            }
        }
    }

    /// <summary>Plants a lock as a transaction's prewrite would.</summary>
    public void PlantLock(string key, string primary, ulong startTs, ulong ttlMs, string value, params string[] secondaries)
    {
        lock (_gate)
        {
            var info = new LockInfo { Key = ByteString.CopyFromUtf8(key), PrimaryLock = ByteString.CopyFromUtf8(primary), LockVersion = startTs, LockTtlMs = ttlMs, LockType = MutationOp.Put };
            info.Secondaries.AddRange(secondaries.Select(ByteString.CopyFromUtf8));
            _locks[K(info.Key)] = info;
            _pendingValues[(K(info.Key), startTs)] = ByteString.CopyFromUtf8(value);
        }
    }

    /// <summary>Commits a planted lock as the transaction's own commit would.</summary>
    public void CommitPlanted(string key, ulong startTs, ulong commitTs)
    {
        lock (_gate)
        {
            var response = Commit(new CommitRequest { StartTs = startTs, CommitTs = commitTs, Keys = { ByteString.CopyFromUtf8(key) } });
            if (response.Error is not null)
            {
                throw new InvalidOperationException(response.Error.Message);
            }
        }
    }

    private readonly Dictionary<(string, ulong), ByteString> _pendingValues = [];

    /// <summary>Rolls back start_ts's locks on keys, as a resolver that found them expired would.</summary>
    public void ResolvePlantedRollback(ulong startTs, params string[] keys)
    {
        lock (_gate)
        {
            foreach (var key in keys)
            {
                RollbackKey(K(ByteString.CopyFromUtf8(key)), startTs);
            }
        }
    }

    private T Locked<T>(Func<T> f)
    {
        lock (_gate)
        {
            return f();
        }
    }

    private ulong Next(uint count)
    {
        lock (_gate)
        {
            var wall = Timestamp.Compose(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 0).Value;
            _lastTs = Math.Max(_lastTs, wall) + count;
            return _lastTs;
        }
    }

    private Write? Visible(string key, ulong version) =>
        _writes.TryGetValue(key, out var list) ? list.FirstOrDefault(w => w.Kind != "rollback" && w.CommitTs <= version) : null;

    private List<Write> WritesOf(string key)
    {
        if (!_writes.TryGetValue(key, out var list))
        {
            _writes[key] = list = [];
        }

        return list;
    }

    private TxnGetResponse Get(TxnGetRequest r)
    {
        var k = K(r.Key);
        if (_locks.TryGetValue(k, out var l) && l.LockVersion <= r.Version)
        {
            return new TxnGetResponse { Error = new KeyError { Message = "locked", Locked = l } };
        }

        var w = Visible(k, r.Version);
        return w is { Kind: "put" } ? new TxnGetResponse { Found = true, Value = w.Value } : new TxnGetResponse();
    }

    private TxnScanResponse Scan(TxnScanRequest r)
    {
        var keys = _writes.Keys.Concat(_locks.Keys).Distinct().Order(StringComparer.Ordinal)
            .Where(k => string.CompareOrdinal(k, K(r.StartKey)) >= 0 && (r.EndKey.IsEmpty || string.CompareOrdinal(k, K(r.EndKey)) < 0)).ToList();
        if (r.Reverse)
        {
            keys.Reverse();
        }

        var response = new TxnScanResponse();
        foreach (var k in keys)
        {
            if (r.Limit > 0 && response.Pairs.Count >= r.Limit)
            {
                response.More = true;
                break;
            }

            if (_locks.TryGetValue(k, out var l) && l.LockVersion <= r.Version)
            {
                response.Error = new KeyError { Message = "locked", Locked = l };
                break;
            }

            if (Visible(k, r.Version) is { Kind: "put" } w)
            {
                response.Pairs.Add(new KvPair { Key = ByteString.CopyFrom(Convert.FromHexString(k)), Value = w.Value });
            }
        }

        return response;
    }

    private PrewriteResponse Prewrite(PrewriteRequest r)
    {
        var response = new PrewriteResponse();
        foreach (var m in r.Mutations)
        {
            var k = K(m.Key);
            var list = _writes.TryGetValue(k, out var l) ? l : [];
            if (list.FirstOrDefault(w => (w.Kind != "rollback" && w.CommitTs > r.StartTs) || (w.Kind == "rollback" && w.StartTs == r.StartTs)) is { } conflict)
            {
                response.Errors.Add(new KeyError
                {
                    Message = "write conflict",
                    Conflict = new WriteConflict { StartTs = r.StartTs, ConflictStartTs = conflict.Kind == "rollback" ? 0 : conflict.StartTs, ConflictCommitTs = conflict.CommitTs, Key = m.Key, Primary = r.PrimaryLock },
                });
            }
            else if (_locks.TryGetValue(k, out var held) && held.LockVersion != r.StartTs)
            {
                response.Errors.Add(new KeyError { Message = "locked", Locked = held });
            }
        }

        if (response.Errors.Count > 0)
        {
            return response;
        }

        foreach (var m in r.Mutations)
        {
            var info = new LockInfo { Key = m.Key, PrimaryLock = r.PrimaryLock, LockVersion = r.StartTs, LockTtlMs = r.LockTtlMs, LockType = m.Op };
            if (m.Key == r.PrimaryLock)
            {
                info.Secondaries.AddRange(r.Secondaries);
            }

            _locks[K(m.Key)] = info;
            _pendingValues[(K(m.Key), r.StartTs)] = m.Value;
        }

        return response;
    }

    private CommitResponse Commit(CommitRequest r)
    {
        foreach (var key in r.Keys)
        {
            var k = K(key);
            var held = _locks.TryGetValue(k, out var l) && l.LockVersion == r.StartTs;
            var committed = WritesOf(k).Any(w => w.Kind != "rollback" && w.StartTs == r.StartTs);
            if (!held && !committed)
            {
                return new CommitResponse { Error = new KeyError { Message = "txn not found", TxnNotFound = new TxnNotFound { StartTs = r.StartTs, Key = key } } };
            }
        }

        foreach (var key in r.Keys)
        {
            var k = K(key);
            if (_locks.TryGetValue(k, out var l) && l.LockVersion == r.StartTs)
            {
                _locks.Remove(k);
                WritesOf(k).Insert(0, new Write(r.CommitTs, r.StartTs, l.LockType == MutationOp.Delete ? "delete" : "put", _pendingValues[(k, r.StartTs)]));
                WritesOf(k).Sort((a, b) => b.CommitTs.CompareTo(a.CommitTs));
            }
        }

        return new CommitResponse();
    }

    private RollbackResponse Rollback(RollbackRequest r)
    {
        foreach (var key in r.Keys)
        {
            if (WritesOf(K(key)).FirstOrDefault(w => w.Kind != "rollback" && w.StartTs == r.StartTs) is { } w)
            {
                return new RollbackResponse { Error = new KeyError { Message = "committed", Committed = new AlreadyCommitted { StartTs = r.StartTs, CommitTs = w.CommitTs, Key = key } } };
            }
        }

        foreach (var key in r.Keys)
        {
            RollbackKey(K(key), r.StartTs);
        }

        return new RollbackResponse();
    }

    private void RollbackKey(string k, ulong startTs)
    {
        if (_locks.TryGetValue(k, out var l) && l.LockVersion == startTs)
        {
            _locks.Remove(k);
        }

        WritesOf(k).Add(new Write(startTs, startTs, "rollback", ByteString.Empty));
    }

    private CheckTxnStatusResponse CheckTxnStatus(CheckTxnStatusRequest r)
    {
        var k = K(r.PrimaryKey);
        if (_locks.TryGetValue(k, out var l) && l.LockVersion == r.LockTs)
        {
            if (new Timestamp(r.CurrentTs).PhysicalMs > new Timestamp(r.LockTs).PhysicalMs + (long)l.LockTtlMs)
            {
                RollbackKey(k, r.LockTs);
                return new CheckTxnStatusResponse { Status = TxnStatusKind.RolledBack, RolledBackNow = true };
            }

            return new CheckTxnStatusResponse { Status = TxnStatusKind.Locked, LockTtlMs = l.LockTtlMs, Lock = l };
        }

        var list = WritesOf(k);
        if (list.FirstOrDefault(w => w.StartTs == r.LockTs) is { } w)
        {
            return w.Kind == "rollback"
                ? new CheckTxnStatusResponse { Status = TxnStatusKind.RolledBack }
                : new CheckTxnStatusResponse { Status = TxnStatusKind.Committed, CommitTs = w.CommitTs };
        }

        if (r.RollbackIfNotExist)
        {
            RollbackKey(k, r.LockTs);
            return new CheckTxnStatusResponse { Status = TxnStatusKind.RolledBack, RolledBackNow = true };
        }

        return new CheckTxnStatusResponse { Error = new KeyError { Message = "txn not found", TxnNotFound = new TxnNotFound { StartTs = r.LockTs, Key = r.PrimaryKey } } };
    }

    private ResolveLockResponse ResolveLock(ResolveLockRequest r)
    {
        var keys = r.Keys.Count > 0 ? r.Keys.Select(K).ToList() : _locks.Where(p => p.Value.LockVersion == r.StartTs).Select(p => p.Key).ToList();
        uint resolved = 0;
        foreach (var k in keys)
        {
            if (_locks.TryGetValue(k, out var l) && l.LockVersion == r.StartTs)
            {
                if (r.CommitTs == 0)
                {
                    RollbackKey(k, r.StartTs);
                }
                else
                {
                    Commit(new CommitRequest { StartTs = r.StartTs, CommitTs = r.CommitTs, Keys = { l.Key } });
                }

                resolved++;
            }
        }

        if (resolved == 0 && !keys.Any(k => WritesOf(k).Any(w => w.StartTs == r.StartTs)))
        {
            return new ResolveLockResponse { Error = new KeyError { Message = "txn not found", TxnNotFound = new TxnNotFound { StartTs = r.StartTs } } };
        }

        return new ResolveLockResponse { Resolved = resolved };
    }

    private TxnHeartBeatResponse HeartBeat(TxnHeartBeatRequest r)
    {
        if (_locks.TryGetValue(K(r.PrimaryLock), out var l) && l.LockVersion == r.StartTs)
        {
            l.LockTtlMs = Math.Max(l.LockTtlMs, r.AdviseTtlMs);
            return new TxnHeartBeatResponse { LockTtlMs = l.LockTtlMs };
        }

        return new TxnHeartBeatResponse { Error = new KeyError { Message = "txn not found", TxnNotFound = new TxnNotFound { StartTs = r.StartTs, Key = r.PrimaryLock } } };
    }
}
