using Google.Protobuf;
using Kv.Client;
using Kv.Proto.V1;

namespace Kv.Node.Mvcc;

/// <summary>
/// The Percolator rules (shared/DESIGN.md section 6, TiKV's kvrpc semantics). Each action reads
/// through an <see cref="IMvccReader"/> and adds its engine writes to an <see cref="MvccTxn"/>;
/// it performs no I/O of its own. A refused command leaves the txn empty (all or nothing).
/// Callers have validated the request (non-zero timestamps, keys present, commit_ts above start_ts)
/// and hold the latches of every key named.
/// </summary>
public static class TxnActions
{
    /// <summary>Snapshot read of key at version: (locked error, null) or (null, value or null when absent).</summary>
    public static (KeyError? Error, byte[]? Value) Get(IMvccReader reader, ReadOnlySpan<byte> key, Timestamp version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (reader.LoadLock(key) is { } lk && lk.StartTs <= version && lk.Type is LockType.Put or LockType.Delete)
        {
            return (Locked(key, lk, $"key is locked by transaction {lk.StartTs.Value} (start_ts <= read version {version.Value}); resolve the lock and retry"), null);
        }

        var ts = version;
        while (reader.SeekWrite(key, ts) is { } found)
        {
            switch (found.Record.Type)
            {
                case WriteType.Put:
                    return (null, found.Record.ShortValue ?? reader.LoadValue(key, found.Record.StartTs)
                        ?? throw new InvalidDataException($"committed value of start_ts {found.Record.StartTs.Value} is missing from the default CF"));
                case WriteType.Delete:
                    return (null, null);
                default:
                    if (found.CommitTs.Value == 0)
                    {
                        return (null, null);
                    }

                    ts = new Timestamp(found.CommitTs.Value - 1);
                    break;
            }
        }

        return (null, null);
    }

    /// <summary>Prewrite: the per-key errors (none: every key is locked for startTs, writes in txn).</summary>
    public static List<KeyError> Prewrite(IMvccReader reader, MvccTxn txn, IReadOnlyList<Mutation> mutations, ReadOnlySpan<byte> primary,
        Timestamp startTs, ulong ttlMs, IReadOnlyList<ByteString> secondaries)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(txn);
        ArgumentNullException.ThrowIfNull(mutations);
        var errors = new List<KeyError>();
        var primaryBytes = primary.ToArray();
        foreach (var m in mutations)
        {
            var key = m.Key.Span;
            if (reader.LoadLock(key) is { } lk)
            {
                if (lk.StartTs == startTs)
                {
                    continue; // a retry of this prewrite
                }

                errors.Add(Locked(key, lk, $"key is locked by transaction {lk.StartTs.Value}; resolve the lock and retry"));
                continue;
            }

            if (reader.SeekWrite(key, Timestamp.Max) is { } newest && newest.CommitTs >= startTs)
            {
                var rolledBack = newest.Record.Type == WriteType.Rollback && newest.Record.StartTs == startTs;
                if (!rolledBack && reader.FindWriteOf(key, startTs) is { Record.Type: WriteType.Rollback })
                {
                    rolledBack = true;
                }

                errors.Add(new KeyError
                {
                    Message = rolledBack
                        ? $"transaction {startTs.Value} was rolled back on this key; it cannot commit: restart it with a new start_ts"
                        : $"a write committed at {newest.CommitTs.Value} after start_ts {startTs.Value}; restart the transaction with a new start_ts",
                    Conflict = new WriteConflict
                    {
                        StartTs = startTs.Value,
                        ConflictStartTs = newest.Record.Type == WriteType.Rollback ? 0 : newest.Record.StartTs.Value,
                        ConflictCommitTs = newest.CommitTs.Value,
                        Key = m.Key,
                        Primary = ByteString.CopyFrom(primaryBytes),
                    },
                });
                continue;
            }

            var type = m.Op switch
            {
                MutationOp.Put => LockType.Put,
                MutationOp.Delete => LockType.Delete,
                _ => LockType.Lock,
            };
            byte[]? shortValue = null;
            if (type == LockType.Put)
            {
                if (m.Value.Length <= TxnKeys.MaxShortValue)
                {
                    shortValue = m.Value.ToByteArray();
                }
                else
                {
                    txn.PutValue(key, startTs, m.Value.Span);
                }
            }

            var isPrimary = key.SequenceEqual(primaryBytes);
            txn.PutLock(key, new MvccLock(type, primaryBytes, startTs, ttlMs, shortValue,
                isPrimary ? secondaries.Select(s => s.ToByteArray()).ToList() : []));
        }

        if (errors.Count > 0)
        {
            txn.Clear();
        }

        return errors;
    }

    /// <summary>Commit of keys at commitTs; null on success.</summary>
    public static KeyError? Commit(IMvccReader reader, MvccTxn txn, IEnumerable<ByteString> keys, Timestamp startTs, Timestamp commitTs)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(txn);
        ArgumentNullException.ThrowIfNull(keys);
        foreach (var k in keys)
        {
            if (CommitKey(reader, txn, k, startTs, commitTs) is { } error)
            {
                txn.Clear();
                return error;
            }
        }

        return null;
    }

    /// <summary>Rollback of startTs on keys; null on success.</summary>
    public static KeyError? Rollback(IMvccReader reader, MvccTxn txn, IEnumerable<ByteString> keys, Timestamp startTs)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(txn);
        ArgumentNullException.ThrowIfNull(keys);
        foreach (var k in keys)
        {
            if (RollbackKey(reader, txn, k, startTs) is { } error)
            {
                txn.Clear();
                return error;
            }
        }

        return null;
    }

    /// <summary>The fate of transaction lockTs, decided on its primary key.</summary>
    public static CheckTxnStatusResponse CheckTxnStatus(IMvccReader reader, MvccTxn txn, ByteString primary, Timestamp lockTs, Timestamp currentTs, bool rollbackIfNotExist)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(txn);
        ArgumentNullException.ThrowIfNull(primary);
        var key = primary.Span;
        if (reader.LoadLock(key) is { } lk && lk.StartTs == lockTs)
        {
            if ((ulong)lockTs.PhysicalMs + lk.TtlMs < (ulong)currentTs.PhysicalMs)
            {
                RemoveLockAndRollback(txn, key, lk, startTs: lockTs);
                return new CheckTxnStatusResponse { Status = TxnStatusKind.RolledBack, RolledBackNow = true };
            }

            return new CheckTxnStatusResponse { Status = TxnStatusKind.Locked, LockTtlMs = lk.TtlMs, Lock = Info(key, lk) };
        }

        switch (reader.FindWriteOf(key, lockTs))
        {
            case { Record.Type: WriteType.Rollback }:
                return new CheckTxnStatusResponse { Status = TxnStatusKind.RolledBack };
            case { } committed:
                return new CheckTxnStatusResponse { Status = TxnStatusKind.Committed, CommitTs = committed.CommitTs.Value };
            default:
                if (rollbackIfNotExist)
                {
                    txn.PutWrite(key, lockTs, ProtectedRollback(lockTs));
                    return new CheckTxnStatusResponse { Status = TxnStatusKind.RolledBack, RolledBackNow = true };
                }

                return new CheckTxnStatusResponse { Error = NotFound(key, lockTs, "the primary has no lock and no commit or rollback record of this transaction") };
        }
    }

    /// <summary>Commits (commitTs above zero) or rolls back startTs's locks on keys: (error, how many locks were resolved).</summary>
    public static (KeyError? Error, uint Resolved) ResolveLock(IMvccReader reader, MvccTxn txn, IReadOnlyList<ByteString> keys, Timestamp startTs, Timestamp commitTs)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(txn);
        ArgumentNullException.ThrowIfNull(keys);
        uint resolved = 0;
        var anyRecord = false;
        foreach (var k in keys)
        {
            var key = k.Span;
            if (reader.LoadLock(key) is { } lk && lk.StartTs == startTs)
            {
                if (commitTs.Value == 0)
                {
                    RemoveLockAndRollback(txn, key, lk, startTs);
                }
                else
                {
                    CommitLock(txn, key, lk, commitTs);
                }

                resolved++;
            }
            else if (reader.FindWriteOf(key, startTs) is not null)
            {
                anyRecord = true;
            }
        }

        if (resolved == 0 && !anyRecord && keys.Count > 0)
        {
            txn.Clear();
            return (NotFound(keys[0].Span, startTs, "no lock and no record of this transaction on the keys named"), 0);
        }

        return (null, resolved);
    }

    /// <summary>Extends the primary lock's TTL to adviseTtlMs (never shortens it): (error, the TTL now).</summary>
    public static (KeyError? Error, ulong TtlMs) HeartBeat(IMvccReader reader, MvccTxn txn, ByteString primary, Timestamp startTs, ulong adviseTtlMs)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(txn);
        ArgumentNullException.ThrowIfNull(primary);
        var key = primary.Span;
        var lk = reader.LoadLock(key);
        if (lk is null)
        {
            return (NotFound(key, startTs, "the primary has no lock (the transaction committed or was rolled back)"), 0);
        }

        if (lk.StartTs != startTs)
        {
            return (new KeyError
            {
                Message = $"the lock on the primary belongs to transaction {lk.StartTs.Value}, not {startTs.Value}",
                LockMismatch = new LockMismatch { StartTs = startTs.Value, Key = primary, Lock = Info(key, lk) },
            }, 0);
        }

        if (adviseTtlMs > lk.TtlMs)
        {
            txn.PutLock(key, lk with { TtlMs = adviseTtlMs });
            return (null, adviseTtlMs);
        }

        return (null, lk.TtlMs);
    }

    /// <summary>The LockInfo a response carries for key's lock.</summary>
    public static LockInfo Info(ReadOnlySpan<byte> key, MvccLock lk)
    {
        ArgumentNullException.ThrowIfNull(lk);
        var info = new LockInfo
        {
            PrimaryLock = ByteString.CopyFrom(lk.Primary),
            LockVersion = lk.StartTs.Value,
            Key = ByteString.CopyFrom(key),
            LockTtlMs = lk.TtlMs,
            LockType = lk.Type switch
            {
                LockType.Put => MutationOp.Put,
                LockType.Delete => MutationOp.Delete,
                _ => MutationOp.Lock,
            },
        };
        info.Secondaries.AddRange(lk.Secondaries.Select(ByteString.CopyFrom));
        return info;
    }

    private static KeyError? CommitKey(IMvccReader reader, MvccTxn txn, ByteString k, Timestamp startTs, Timestamp commitTs)
    {
        var key = k.Span;
        var lk = reader.LoadLock(key);
        if (lk is not null && lk.StartTs == startTs)
        {
            CommitLock(txn, key, lk, commitTs);
            return null;
        }

        switch (reader.FindWriteOf(key, startTs))
        {
            case { Record.Type: WriteType.Rollback }:
                return NotFound(key, startTs, "the transaction was rolled back on this key; it cannot commit");
            case not null:
                return null; // committed already: a retry
            default:
                break;
        }

        if (lk is not null)
        {
            return new KeyError
            {
                Message = $"the key is locked by transaction {lk.StartTs.Value}, not {startTs.Value}: this transaction's lock is gone (rolled back); it cannot commit",
                LockMismatch = new LockMismatch { StartTs = startTs.Value, Key = k, Lock = Info(key, lk) },
            };
        }

        return NotFound(key, startTs, "no lock and no commit record of this transaction (never prewritten, or rolled back); it cannot commit");
    }

    private static KeyError? RollbackKey(IMvccReader reader, MvccTxn txn, ByteString k, Timestamp startTs)
    {
        var key = k.Span;
        if (reader.LoadLock(key) is { } lk && lk.StartTs == startTs)
        {
            RemoveLockAndRollback(txn, key, lk, startTs);
            return null;
        }

        switch (reader.FindWriteOf(key, startTs))
        {
            case { Record.Type: WriteType.Rollback }:
                return null; // rolled back already
            case { } committed:
                return new KeyError
                {
                    Message = $"transaction {startTs.Value} is already committed at {committed.CommitTs.Value} on this key; it cannot be rolled back",
                    Committed = new AlreadyCommitted { StartTs = startTs.Value, CommitTs = committed.CommitTs.Value, Key = k },
                };
            default:
                txn.PutWrite(key, startTs, ProtectedRollback(startTs)); // so a late prewrite fails
                return null;
        }
    }

    private static void CommitLock(MvccTxn txn, ReadOnlySpan<byte> key, MvccLock lk, Timestamp commitTs)
    {
        var type = lk.Type switch
        {
            LockType.Put => WriteType.Put,
            LockType.Delete => WriteType.Delete,
            _ => WriteType.Lock,
        };
        txn.PutWrite(key, commitTs, new WriteRecord(type, lk.StartTs, Protected: false, lk.ShortValue));
        txn.DeleteLock(key);
    }

    private static void RemoveLockAndRollback(MvccTxn txn, ReadOnlySpan<byte> key, MvccLock lk, Timestamp startTs)
    {
        if (lk.Type == LockType.Put && lk.ShortValue is null)
        {
            txn.DeleteValue(key, startTs);
        }

        txn.DeleteLock(key);
        txn.PutWrite(key, startTs, ProtectedRollback(startTs));
    }

    private static WriteRecord ProtectedRollback(Timestamp startTs) => new(WriteType.Rollback, startTs, Protected: true, null);

    private static KeyError Locked(ReadOnlySpan<byte> key, MvccLock lk, string message) => new() { Message = message, Locked = Info(key, lk) };

    private static KeyError NotFound(ReadOnlySpan<byte> key, Timestamp startTs, string why) => new()
    {
        Message = $"transaction {startTs.Value}: {why}",
        TxnNotFound = new TxnNotFound { StartTs = startTs.Value, Key = ByteString.CopyFrom(key) },
    };
}
