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

            if (NewestConflictingWrite(reader, key, startTs) is { } newest)
            {
                var rolledBack = IsRollbackOf(newest, startTs) || reader.FindWriteOf(key, startTs) is { Record.Type: WriteType.Rollback };
                errors.Add(new KeyError
                {
                    Message = rolledBack
                        ? $"transaction {startTs.Value} was rolled back on this key; it cannot commit: restart it with a new start_ts"
                        : $"a write committed at {newest.CommitTs.Value} after start_ts {startTs.Value}; restart the transaction with a new start_ts",
                    Conflict = new WriteConflict
                    {
                        StartTs = startTs.Value,
                        ConflictStartTs = rolledBack || newest.Record.Type == WriteType.Rollback ? 0 : newest.Record.StartTs.Value,
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
            if (!key.SequenceEqual(lk.Primary))
            {
                // Only the primary may decide: rolling back a secondary's expired lock here would
                // leave the primary free to commit, and the transaction half visible.
                return new CheckTxnStatusResponse
                {
                    Error = new KeyError
                    {
                        Message = $"the key is not the primary of transaction {lockTs.Value}: its lock names primary 0x{Convert.ToHexString(lk.Primary)}; ask that key",
                        LockMismatch = new LockMismatch { StartTs = lockTs.Value, Key = primary, Lock = Info(key, lk) },
                    },
                };
            }

            if ((ulong)lockTs.PhysicalMs + lk.TtlMs < (ulong)currentTs.PhysicalMs)
            {
                RemoveLockAndRollback(reader, txn, key, lk, startTs: lockTs);
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
                    PutRollback(reader, txn, key, lockTs);
                    return new CheckTxnStatusResponse { Status = TxnStatusKind.RolledBack, RolledBackNow = true };
                }

                return new CheckTxnStatusResponse { Error = NotFound(key, lockTs, "the primary has no lock and no commit or rollback record of this transaction") };
        }
    }

    /// <summary>
    /// Commits (commitTs above zero) or rolls back startTs's locks on keys: (error, how many locks
    /// were resolved). A key already resolved the same way is skipped; one resolved the other way
    /// is an error for the whole command (the primary and the key disagree). A key with no trace
    /// of the transaction gets a protected rollback (a late prewrite fails) when rolling back, and
    /// is an error when committing. When no key has any trace the transaction is unknown: refused.
    /// </summary>
    public static (KeyError? Error, uint Resolved) ResolveLock(IMvccReader reader, MvccTxn txn, IReadOnlyList<ByteString> keys, Timestamp startTs, Timestamp commitTs)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(txn);
        ArgumentNullException.ThrowIfNull(keys);
        var commit = commitTs.Value != 0;
        var states = keys.Select(k => (Key: k, Lock: reader.LoadLock(k.Span) is { } l && l.StartTs == startTs ? l : null, Record: reader.FindWriteOf(k.Span, startTs))).ToList();
        if (keys.Count > 0 && states.All(s => s.Lock is null && s.Record is null))
        {
            return (NotFound(keys[0].Span, startTs, "no lock and no record of this transaction on the keys named"), 0);
        }

        uint resolved = 0;
        foreach (var (k, lk, record) in states)
        {
            var key = k.Span;
            KeyError? error = null;
            if (lk is not null)
            {
                if (commit)
                {
                    error = CommitLock(reader, txn, key, lk, commitTs);
                }
                else
                {
                    RemoveLockAndRollback(reader, txn, key, lk, startTs);
                }

                resolved++;
            }
            else if (record is { } r)
            {
                if (commit && r.Record.Type == WriteType.Rollback)
                {
                    error = new KeyError { Message = $"transaction {startTs.Value} was rolled back on key {Convert.ToHexString(key)}, so it cannot be committed at {commitTs.Value}: the transaction's primary and this key disagree; report this as a bug" };
                }
                else if (!commit && r.Record.Type != WriteType.Rollback)
                {
                    error = new KeyError
                    {
                        Message = $"transaction {startTs.Value} is already committed at {r.CommitTs.Value} on this key; it cannot be rolled back",
                        Committed = new AlreadyCommitted { StartTs = startTs.Value, CommitTs = r.CommitTs.Value, Key = k },
                    };
                }
            }
            else if (commit)
            {
                error = NotFound(key, startTs, "this key has no lock and no record of the transaction, so it cannot be committed here; its prewrite never reached this key");
            }
            else
            {
                PutRollback(reader, txn, key, startTs);
            }

            if (error is not null)
            {
                txn.Clear();
                return (error, 0);
            }
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
            return CommitLock(reader, txn, key, lk, commitTs);
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
            RemoveLockAndRollback(reader, txn, key, lk, startTs);
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
                PutRollback(reader, txn, key, startTs); // so a late prewrite fails
                return null;
        }
    }

    /// <summary>Writes lk's commit record at commitTs and removes the lock; an error (nothing written) when another commit holds key@commitTs.</summary>
    private static KeyError? CommitLock(IMvccReader reader, MvccTxn txn, ReadOnlySpan<byte> key, MvccLock lk, Timestamp commitTs)
    {
        var type = lk.Type switch
        {
            LockType.Put => WriteType.Put,
            LockType.Delete => WriteType.Delete,
            _ => WriteType.Lock,
        };
        var overlapped = false;
        if (WriteAt(reader, key, commitTs) is { } existing)
        {
            if (existing.Type != WriteType.Rollback)
            {
                // Two commits at one commit_ts: the TSO hands out each timestamp once, so the
                // request is wrong. Replacing the record would lose the other transaction's write.
                return new KeyError
                {
                    Message = $"commit_ts {commitTs.Value} is already the commit timestamp of transaction {existing.StartTs.Value} on this key; " +
                        "commit timestamps come from the TSO and are unique: draw a new one",
                };
            }

            // The rollback of the transaction that started at commitTs lives on as the flag.
            overlapped = true;
        }

        txn.PutWrite(key, commitTs, new WriteRecord(type, lk.StartTs, Protected: false, lk.ShortValue, overlapped));
        txn.DeleteLock(key);
        return null;
    }

    private static void RemoveLockAndRollback(IMvccReader reader, MvccTxn txn, ReadOnlySpan<byte> key, MvccLock lk, Timestamp startTs)
    {
        if (lk.Type == LockType.Put && lk.ShortValue is null)
        {
            txn.DeleteValue(key, startTs);
        }

        txn.DeleteLock(key);
        PutRollback(reader, txn, key, startTs);
    }

    /// <summary>
    /// Records that startTs is rolled back on key: a protected rollback record at key@startTs, or,
    /// when another transaction committed at exactly startTs, the overlapped-rollback flag on its
    /// commit record (the commit stays; either way a late prewrite of startTs is refused).
    /// </summary>
    private static void PutRollback(IMvccReader reader, MvccTxn txn, ReadOnlySpan<byte> key, Timestamp startTs)
    {
        switch (WriteAt(reader, key, startTs))
        {
            case null:
                txn.PutWrite(key, startTs, new WriteRecord(WriteType.Rollback, startTs, Protected: true, null));
                break;
            case { Type: WriteType.Rollback }:
                break; // rolled back already
            case { OverlappedRollback: false } commit:
                txn.PutWrite(key, startTs, commit with { OverlappedRollback = true });
                break;
            default:
                break; // flagged already
        }
    }

    /// <summary>The write record at exactly key@commitTs, or null.</summary>
    private static WriteRecord? WriteAt(IMvccReader reader, ReadOnlySpan<byte> key, Timestamp commitTs) =>
        reader.SeekWrite(key, commitTs) is { } found && found.CommitTs == commitTs ? found.Record : null;

    /// <summary>True when found records that startTs is rolled back (its own rollback record, or the overlapped flag at key@startTs).</summary>
    private static bool IsRollbackOf((Timestamp CommitTs, WriteRecord Record) found, Timestamp startTs) =>
        (found.Record.Type == WriteType.Rollback && found.Record.StartTs == startTs) || (found.CommitTs == startTs && found.Record.OverlappedRollback);

    /// <summary>
    /// The newest write record at or above startTs that stops a prewrite of startTs: another
    /// transaction's commit above startTs, or startTs's own rollback (its record, or the flag on
    /// a commit at exactly startTs). Other transactions' rollback records are skipped (they wrote
    /// nothing), and so is an unflagged commit at exactly startTs: it is inside this
    /// transaction's snapshot (reads at startTs see it), so it is no conflict.
    /// </summary>
    private static (Timestamp CommitTs, WriteRecord Record)? NewestConflictingWrite(IMvccReader reader, ReadOnlySpan<byte> key, Timestamp startTs)
    {
        var ts = Timestamp.Max;
        while (reader.SeekWrite(key, ts) is { } found && found.CommitTs >= startTs)
        {
            if (IsRollbackOf(found, startTs) || (found.CommitTs > startTs && found.Record.Type != WriteType.Rollback))
            {
                return found;
            }

            if (found.CommitTs == startTs)
            {
                break; // nothing older can conflict
            }

            ts = new Timestamp(found.CommitTs.Value - 1);
        }

        return null;
    }

    private static KeyError Locked(ReadOnlySpan<byte> key, MvccLock lk, string message) => new() { Message = message, Locked = Info(key, lk) };

    private static KeyError NotFound(ReadOnlySpan<byte> key, Timestamp startTs, string why) => new()
    {
        Message = $"transaction {startTs.Value}: {why}",
        TxnNotFound = new TxnNotFound { StartTs = startTs.Value, Key = ByteString.CopyFrom(key) },
    };
}
