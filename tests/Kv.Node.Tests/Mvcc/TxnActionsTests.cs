using Google.Protobuf;
using Kv.Client;
using Kv.Node.Mvcc;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Mvcc;

/// <summary>The Percolator rules of TxnActions against a real RocksDB engine.</summary>
public sealed class TxnActionsTests : IDisposable
{
    private static readonly ByteString A = ByteString.CopyFromUtf8("a");
    private static readonly ByteString B = ByteString.CopyFromUtf8("b");
    private readonly TempDirectory dir = new();
    private readonly Engine engine;

    public TxnActionsTests() => engine = Engine.Open(dir.Sub("db"));

    public void Dispose()
    {
        engine.Dispose();
        dir.Dispose();
    }

    private EngineMvccReader Reader => new(engine);

    private static Timestamp Ts(ulong v) => new(v);

    private static Mutation Put(ByteString key, string value) => new() { Op = MutationOp.Put, Key = key, Value = ByteString.CopyFromUtf8(value) };

    private void Apply(MvccTxn txn)
    {
        using var batch = engine.NewWriteBatch();
        foreach (var w in txn.Writes)
        {
            var cf = w.ColumnFamily switch { "default" => ColumnFamily.Default, "lock" => ColumnFamily.Lock, _ => ColumnFamily.Write };
            if (w.Delete)
            {
                batch.Delete(cf, w.Key.Span);
            }
            else
            {
                batch.Put(cf, w.Key.Span, w.Value.Span);
            }
        }

        engine.Write(batch);
    }

    private List<KeyError> Prewrite(ulong startTs, ByteString primary, params Mutation[] mutations)
    {
        var txn = new MvccTxn();
        var errors = TxnActions.Prewrite(Reader, txn, mutations, primary.Span, Ts(startTs), 3000, [B]);
        Assert.True(errors.Count == 0 || txn.Writes.Count == 0, "a refused prewrite must write nothing");
        Apply(txn);
        return errors;
    }

    private KeyError? Commit(ulong startTs, ulong commitTs, params ByteString[] keys)
    {
        var txn = new MvccTxn();
        var error = TxnActions.Commit(Reader, txn, keys, Ts(startTs), Ts(commitTs));
        Assert.True(error is null || txn.Writes.Count == 0, "a refused commit must write nothing");
        Apply(txn);
        return error;
    }

    private KeyError? Rollback(ulong startTs, params ByteString[] keys)
    {
        var txn = new MvccTxn();
        var error = TxnActions.Rollback(Reader, txn, keys, Ts(startTs));
        Apply(txn);
        return error;
    }

    private string? Get(ByteString key, ulong version)
    {
        var (error, value) = TxnActions.Get(Reader, key.Span, Ts(version));
        Assert.Null(error);
        return value is null ? null : System.Text.Encoding.UTF8.GetString(value);
    }

    [Fact]
    public void PrewriteCommitThenReadsSeeTheValueFromCommitTsOn()
    {
        var big = new string('v', 1000);
        Assert.Empty(Prewrite(10, A, Put(A, "small"), Put(B, big)));
        // Only the big value goes to the default CF.
        Assert.Null(engine.Get(ColumnFamily.Default, TxnKeys.DataKey(A.Span, Ts(10))));
        Assert.NotNull(engine.Get(ColumnFamily.Default, TxnKeys.DataKey(B.Span, Ts(10))));
        // The primary lock carries the secondaries; the secondary's does not.
        Assert.Single(Reader.LoadLock(A.Span)!.Secondaries);
        Assert.Empty(Reader.LoadLock(B.Span)!.Secondaries);

        Assert.Null(Commit(10, 20, A, B));
        Assert.Null(Reader.LoadLock(A.Span));
        Assert.Null(Get(A, 19));
        Assert.Equal("small", Get(A, 20));
        Assert.Equal(big, Get(B, 25));
        // Retried commit: success and nothing written.
        var txn = new MvccTxn();
        Assert.Null(TxnActions.Commit(Reader, txn, [A, B], Ts(10), Ts(20)));
        Assert.Empty(txn.Writes);
    }

    [Fact]
    public void ReadsSeeLocksAtOrBelowTheirVersionOnlyAndSkipRollbackAndLockRecords()
    {
        Assert.Empty(Prewrite(10, A, Put(A, "v1")));
        Assert.Null(Commit(10, 11, A));
        Assert.Empty(Prewrite(20, A, Put(A, "v2")));

        var (error, _) = TxnActions.Get(Reader, A.Span, Ts(25));
        Assert.NotNull(error?.Locked);
        Assert.Equal(20UL, error.Locked.LockVersion);
        Assert.Equal("v1", Get(A, 19)); // the lock is newer than the read

        Assert.Null(Rollback(20, A));
        Assert.Equal("v1", Get(A, 25)); // the rollback record at 20 is skipped

        Assert.Empty(Prewrite(30, A, new Mutation { Op = MutationOp.Lock, Key = A }));
        Assert.Equal("v1", Get(A, 35)); // a LOCK-type lock does not block readers
        Assert.Null(Commit(30, 31, A));
        Assert.Equal("v1", Get(A, 35)); // nor does its LOCK record hide the value

        Assert.Empty(Prewrite(40, A, new Mutation { Op = MutationOp.Delete, Key = A }));
        Assert.Null(Commit(40, 41, A));
        Assert.Null(Get(A, 41));
        Assert.Equal("v1", Get(A, 40));
    }

    [Fact]
    public void PrewriteIsRefusedAllOrNothingOnConflictOrForeignLockAndIdempotentOnRetry()
    {
        Assert.Empty(Prewrite(10, A, Put(A, "x")));
        Assert.Null(Commit(10, 20, A));

        // start_ts 15 < commit 20 on a: conflict; b would be fine but is not locked either.
        var errors = Prewrite(15, A, Put(A, "y"), Put(B, "y"));
        Assert.Single(errors);
        Assert.Equal(20UL, errors[0].Conflict.ConflictCommitTs);
        Assert.Equal(10UL, errors[0].Conflict.ConflictStartTs);
        Assert.Null(Reader.LoadLock(B.Span));

        Assert.Empty(Prewrite(30, A, Put(A, "z")));
        var locked = Prewrite(31, B, Put(B, "w"), Put(A, "w"));
        Assert.Single(locked);
        Assert.Equal(30UL, locked[0].Locked.LockVersion);
        Assert.Null(Reader.LoadLock(B.Span));

        var retry = new MvccTxn();
        Assert.Empty(TxnActions.Prewrite(Reader, retry, [Put(A, "z")], A.Span, Ts(30), 3000, []));
        Assert.Empty(retry.Writes);
    }

    [Fact]
    public void RollbackLeavesAProtectedRecordThatRefusesALatePrewriteAndCommit()
    {
        Assert.Empty(Prewrite(10, A, Put(A, new string('q', 300))));
        Assert.Null(Rollback(10, A, B)); // b has no lock: still gets a rollback record
        Assert.Null(Reader.LoadLock(A.Span));
        Assert.Null(engine.Get(ColumnFamily.Default, TxnKeys.DataKey(A.Span, Ts(10))));
        var record = Reader.FindWriteOf(B.Span, Ts(10));
        Assert.Equal(WriteType.Rollback, record?.Record.Type);
        Assert.True(record!.Value.Record.Protected);

        var late = Prewrite(10, B, Put(B, "late"));
        Assert.Single(late);
        Assert.NotNull(late[0].Conflict);
        Assert.Contains("rolled back", late[0].Message, StringComparison.Ordinal);

        Assert.NotNull(Commit(10, 11, A)?.TxnNotFound);
        Assert.Null(Rollback(10, A)); // idempotent
    }

    [Fact]
    public void CommitWithoutLockIsTxnNotFoundAndForeignLockIsMismatchAndCommittedRefusesRollback()
    {
        Assert.NotNull(Commit(10, 11, A)?.TxnNotFound);
        Assert.Empty(Prewrite(20, A, Put(A, "x")));
        Assert.NotNull(Commit(10, 21, A)?.LockMismatch);
        Assert.Null(Commit(20, 21, A));
        var error = Rollback(20, A);
        Assert.Equal(21UL, error?.Committed?.CommitTs);
        Assert.Equal("x", Get(A, 30));
    }

    [Fact]
    public void CheckTxnStatusCoversLockedExpiredCommittedRolledBackAndMissing()
    {
        var start = Timestamp.Compose(1_000_000, 0);
        var txn = new MvccTxn();
        Assert.Empty(TxnActions.Prewrite(Reader, txn, [Put(A, "x")], A.Span, start, ttlMs: 100, [B]));
        Apply(txn);

        txn = new MvccTxn();
        var live = TxnActions.CheckTxnStatus(Reader, txn, A, start, Timestamp.Compose(1_000_050, 0), rollbackIfNotExist: false);
        Assert.Equal(TxnStatusKind.Locked, live.Status);
        Assert.Equal(100UL, live.LockTtlMs);
        Assert.Single(live.Lock.Secondaries);
        Assert.Empty(txn.Writes);

        var expired = TxnActions.CheckTxnStatus(Reader, txn, A, start, Timestamp.Compose(1_000_101, 0), rollbackIfNotExist: false);
        Assert.Equal(TxnStatusKind.RolledBack, expired.Status);
        Assert.True(expired.RolledBackNow);
        Apply(txn);
        Assert.Null(Reader.LoadLock(A.Span));

        txn = new MvccTxn();
        var again = TxnActions.CheckTxnStatus(Reader, txn, A, start, Timestamp.Compose(1_000_200, 0), rollbackIfNotExist: true);
        Assert.Equal(TxnStatusKind.RolledBack, again.Status);
        Assert.False(again.RolledBackNow);

        Assert.Empty(Prewrite(50, B, Put(B, "y")));
        Assert.Null(Commit(50, 60, B));
        var committed = TxnActions.CheckTxnStatus(Reader, txn, B, Ts(50), Ts(70), rollbackIfNotExist: true);
        Assert.Equal(TxnStatusKind.Committed, committed.Status);
        Assert.Equal(60UL, committed.CommitTs);

        var missing = TxnActions.CheckTxnStatus(Reader, txn, B, Ts(80), Ts(90), rollbackIfNotExist: false);
        Assert.NotNull(missing.Error?.TxnNotFound);
        Assert.Empty(txn.Writes);
        var pushed = TxnActions.CheckTxnStatus(Reader, txn, B, Ts(80), Ts(90), rollbackIfNotExist: true);
        Assert.True(pushed.RolledBackNow);
        Apply(txn);
        Assert.NotEmpty(Prewrite(80, B, Put(B, "too late")));
    }

    [Fact]
    public void ResolveLockCommitsOrRollsBackAndRefusesAnUnknownTransaction()
    {
        Assert.Empty(Prewrite(10, A, Put(A, "1"), Put(B, "2")));
        var txn = new MvccTxn();
        var (error, resolved) = TxnActions.ResolveLock(Reader, txn, [A], Ts(10), Ts(15));
        Assert.Null(error);
        Assert.Equal(1u, resolved);
        Apply(txn);
        txn = new MvccTxn();
        (error, resolved) = TxnActions.ResolveLock(Reader, txn, [B], Ts(10), Timestamp.Zero);
        Assert.Equal(1u, resolved);
        Apply(txn);
        Assert.Equal("1", Get(A, 20));
        Assert.Null(Get(B, 20));
        Assert.Empty(Reader.ScanLocks([], []));

        txn = new MvccTxn();
        (error, resolved) = TxnActions.ResolveLock(Reader, txn, [A], Ts(99), Ts(100));
        Assert.NotNull(error?.TxnNotFound);
        Assert.Equal(0u, resolved);
        Assert.Empty(txn.Writes);
    }

    [Fact]
    public void ARollbackAtAnotherTransactionsCommitTsKeepsTheCommitAndStillRefusesTheLatePrewrite()
    {
        // Transaction 10 commits a at 20; then transaction 20 is rolled back on a (its start_ts
        // is that commit_ts: both records want the engine key a@20).
        Assert.Empty(Prewrite(10, A, Put(A, "kept")));
        Assert.Null(Commit(10, 20, A));
        Assert.Null(Rollback(20, A));

        Assert.Equal("kept", Get(A, 25)); // the commit was not replaced
        var record = Reader.SeekWrite(A.Span, Ts(20));
        Assert.Equal(WriteType.Put, record?.Record.Type);
        Assert.True(record!.Value.Record.OverlappedRollback);
        Assert.Equal(WriteType.Rollback, Reader.FindWriteOf(A.Span, Ts(20))?.Record.Type);
        Assert.Equal(WriteType.Put, Reader.FindWriteOf(A.Span, Ts(10))?.Record.Type);

        var late = Prewrite(20, A, Put(A, "late"));
        Assert.Contains("rolled back", Assert.Single(late).Message, StringComparison.Ordinal);
        Assert.Equal(0UL, late[0].Conflict.ConflictStartTs); // no other transaction to blame
        var txn = new MvccTxn();
        Assert.Equal(TxnStatusKind.RolledBack, TxnActions.CheckTxnStatus(Reader, txn, A, Ts(20), Ts(30), rollbackIfNotExist: true).Status);
        Assert.Empty(txn.Writes);
        Assert.Null(Rollback(20, A)); // idempotent, and still no change
        Assert.Equal("kept", Get(A, 25));
    }

    [Fact]
    public void ACommitAtARolledBackTransactionsStartTsKeepsTheRollbackAsAFlag()
    {
        Assert.Null(Rollback(20, A)); // transaction 20 rolled back on a before it prewrote
        Assert.Empty(Prewrite(10, A, Put(A, "v")));
        Assert.Null(Commit(10, 20, A)); // commits at 20, where the rollback record is

        Assert.Equal("v", Get(A, 20));
        Assert.True(Reader.SeekWrite(A.Span, Ts(20))!.Value.Record.OverlappedRollback);
        Assert.Equal(WriteType.Rollback, Reader.FindWriteOf(A.Span, Ts(20))?.Record.Type);
        Assert.Contains("rolled back", Assert.Single(Prewrite(20, A, Put(A, "late"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TwoCommitsAtOneCommitTsOnAKeyAreRefusedAndTheFirstIsKept()
    {
        Assert.Empty(Prewrite(10, A, Put(A, "first")));
        Assert.Null(Commit(10, 20, A));
        // A lock of 17 on a (written straight to the engine: a prewrite at 17 would conflict
        // with the commit at 20) then asks for the same commit_ts 20.
        var txn = new MvccTxn();
        txn.PutLock(A.Span, new MvccLock(LockType.Put, [.. A.Span], Ts(17), 3000, [.. "second"u8], []));
        Apply(txn);
        var error = Commit(17, 20, A);
        Assert.Contains("already the commit timestamp", error?.Message, StringComparison.Ordinal);
        Assert.Equal(Ts(10), Reader.SeekWrite(A.Span, Ts(20))?.Record.StartTs);
        Assert.NotNull(Reader.LoadLock(A.Span));
    }

    [Fact]
    public void OtherTransactionsRollbackRecordsAreNoWriteConflict()
    {
        Assert.Null(Rollback(30, A)); // transaction 30 rolled back on a: it wrote nothing
        Assert.Empty(Prewrite(20, A, Put(A, "ok"))); // an older transaction may still write a
        Assert.Null(Commit(20, 40, A));
        Assert.Equal("ok", Get(A, 40));
        // A commit above start_ts is still a conflict, with a rollback record above it too.
        Assert.Null(Rollback(50, A));
        var errors = Prewrite(25, A, Put(A, "no"));
        Assert.Equal(40UL, Assert.Single(errors).Conflict.ConflictCommitTs);
    }

    [Fact]
    public void ACommitAtExactlyStartTsIsInsideTheSnapshotAndNoConflict()
    {
        Assert.Empty(Prewrite(10, A, Put(A, "v")));
        Assert.Null(Commit(10, 20, A));
        Assert.Equal("v", Get(A, 20)); // a read at 20 sees the commit at 20...
        Assert.Empty(Prewrite(20, A, Put(A, "w"))); // ...so a write at start_ts 20 does not conflict with it
        Assert.Null(Commit(20, 21, A));
        Assert.Equal("w", Get(A, 21));
    }

    [Fact]
    public void CheckTxnStatusOnASecondaryIsRefusedAndRollsNothingBack()
    {
        var start = Timestamp.Compose(1_000_000, 0);
        var txn = new MvccTxn();
        Assert.Empty(TxnActions.Prewrite(Reader, txn, [Put(A, "x"), Put(B, "y")], A.Span, start, ttlMs: 100, [B]));
        Apply(txn);

        txn = new MvccTxn();
        var expired = Timestamp.Compose(1_000_500, 0);
        var answer = TxnActions.CheckTxnStatus(Reader, txn, B, start, expired, rollbackIfNotExist: true);
        Assert.Contains("not the primary", answer.Error?.Message, StringComparison.Ordinal);
        Assert.Equal(A, answer.Error!.LockMismatch.Lock.PrimaryLock);
        Assert.Empty(txn.Writes);
        Assert.NotNull(Reader.LoadLock(B.Span));
    }

    [Fact]
    public void ResolveLockRefusesTheOppositeOfWhatAKeyRecordsAndProtectsKeysWithoutATrace()
    {
        // 10: a committed, b rolled back (an inconsistent pair, as a wrong request would claim).
        Assert.Empty(Prewrite(10, A, Put(A, "1"), Put(B, "2")));
        Assert.Null(Commit(10, 15, A));
        Assert.Null(Rollback(10, B));

        var txn = new MvccTxn();
        var (error, _) = TxnActions.ResolveLock(Reader, txn, [A, B], Ts(10), Ts(15));
        Assert.Contains("rolled back", error?.Message, StringComparison.Ordinal);
        Assert.Empty(txn.Writes);
        (error, _) = TxnActions.ResolveLock(Reader, txn, [B, A], Ts(10), Timestamp.Zero);
        Assert.Equal(15UL, error?.Committed?.CommitTs);
        Assert.Empty(txn.Writes);
        // The same way as recorded: success, nothing written.
        (error, _) = TxnActions.ResolveLock(Reader, txn, [A], Ts(10), Ts(15));
        Assert.Null(error);
        Assert.Empty(txn.Writes);

        // 20: a locked, c never prewritten. Rolling back both protects c against a late prewrite;
        // committing c is refused (its prewrite never arrived).
        var c = ByteString.CopyFromUtf8("c");
        Assert.Empty(Prewrite(20, A, Put(A, "3")));
        (error, _) = TxnActions.ResolveLock(Reader, txn, [A, c], Ts(20), Ts(25));
        Assert.NotNull(error?.TxnNotFound);
        Assert.Empty(txn.Writes);
        var (rollbackError, resolved) = TxnActions.ResolveLock(Reader, txn, [A, c], Ts(20), Timestamp.Zero);
        Assert.Null(rollbackError);
        Assert.Equal(1u, resolved);
        Apply(txn);
        Assert.Equal(WriteType.Rollback, Reader.FindWriteOf(c.Span, Ts(20))?.Record.Type);
        Assert.Contains("rolled back", Assert.Single(Prewrite(20, A, Put(c, "late"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HeartBeatExtendsButNeverShortensTheTtl()
    {
        Assert.Empty(Prewrite(10, A, Put(A, "1")));
        var txn = new MvccTxn();
        Assert.Equal(3000UL, TxnActions.HeartBeat(Reader, txn, A, Ts(10), 100).TtlMs);
        Assert.Empty(txn.Writes);
        Assert.Equal(9000UL, TxnActions.HeartBeat(Reader, txn, A, Ts(10), 9000).TtlMs);
        Apply(txn);
        Assert.Equal(9000UL, Reader.LoadLock(A.Span)!.TtlMs);
        Assert.NotNull(TxnActions.HeartBeat(Reader, new MvccTxn(), A, Ts(11), 9000).Error?.LockMismatch);
        Assert.NotNull(TxnActions.HeartBeat(Reader, new MvccTxn(), B, Ts(10), 9000).Error?.TxnNotFound);
    }

    [Fact]
    public void ScanUserKeysMergesLocksAndWritesInBothDirections()
    {
        var c = ByteString.CopyFromUtf8("c");
        var d = ByteString.CopyFromUtf8("d");
        Assert.Empty(Prewrite(10, A, Put(A, "1"), Put(c, "3")));
        Assert.Null(Commit(10, 11, A, c));
        Assert.Empty(Prewrite(20, A, Put(A, "1b"), Put(B, "2")));
        Assert.Empty(Prewrite(30, d, Put(d, "4")));
        Assert.Equal(["a", "b", "c", "d"], Reader.ScanUserKeys([], [], reverse: false).Select(k => System.Text.Encoding.UTF8.GetString(k)));
        Assert.Equal(["c", "b", "a"], Reader.ScanUserKeys([], "d"u8.ToArray(), reverse: true).Select(k => System.Text.Encoding.UTF8.GetString(k)));
        Assert.Equal(["b", "c"], Reader.ScanUserKeys("b"u8.ToArray(), "d"u8.ToArray(), reverse: false).Select(k => System.Text.Encoding.UTF8.GetString(k)));
    }

    [Fact]
    public async Task LatchesSerializeCommandsOnTheSameKeyOnly()
    {
        var latches = new Latches(slotCount: 64);
        var first = await latches.AcquireAsync([A.Memory, B.Memory]);
        var second = latches.AcquireAsync([B.Memory]);
        Assert.False(second.IsCompleted);
        first.Dispose();
        using var held = await second.WaitAsync(TimeSpan.FromSeconds(10));
        first.Dispose(); // a second dispose releases nothing more
        var third = latches.AcquireAsync([B.Memory]);
        Assert.False(third.IsCompleted);
    }
}
