using Kv.Client;
using Kv.Node.Storage;

namespace Kv.Node.Mvcc;

/// <summary>What the Percolator actions read: locks, write records and values of user keys.</summary>
public interface IMvccReader
{
    /// <summary>The lock on key, or null.</summary>
    MvccLock? LoadLock(ReadOnlySpan<byte> key);

    /// <summary>The newest write record of key with commit_ts at or below ts, or null.</summary>
    (Timestamp CommitTs, WriteRecord Record)? SeekWrite(ReadOnlySpan<byte> key, Timestamp ts);

    /// <summary>
    /// The write record of key whose start_ts is startTs (a commit or a rollback of that
    /// transaction), or null. A rollback kept as the overlapped-rollback flag of another
    /// transaction's commit at <c>key@startTs</c> is returned as a protected rollback record.
    /// </summary>
    (Timestamp CommitTs, WriteRecord Record)? FindWriteOf(ReadOnlySpan<byte> key, Timestamp startTs);

    /// <summary>The value startTs wrote to key in the default CF, or null.</summary>
    byte[]? LoadValue(ReadOnlySpan<byte> key, Timestamp startTs);

    /// <summary>Locks of user keys in [start, end) (end empty: no bound), in key order.</summary>
    IEnumerable<(byte[] Key, MvccLock Lock)> ScanLocks(byte[] start, byte[] end);

    /// <summary>Distinct user keys in [start, end) that have a lock or a write record, ascending or descending.</summary>
    IEnumerable<byte[]> ScanUserKeys(byte[] start, byte[] end, bool reverse);
}

/// <summary>
/// <see cref="IMvccReader"/> over the store's engine, optionally at an <see cref="EngineSnapshot"/>.
/// A record that does not decode is a corruption or a bug: it throws <see cref="InvalidDataException"/>.
/// </summary>
public sealed class EngineMvccReader(Engine engine, EngineSnapshot? snapshot = null) : IMvccReader
{
    public MvccLock? LoadLock(ReadOnlySpan<byte> key)
    {
        var raw = engine.Get(ColumnFamily.Lock, TxnKeys.LockKey(key), snapshot);
        return raw is null ? null : DecodeLock(raw);
    }

    public (Timestamp CommitTs, WriteRecord Record)? SeekWrite(ReadOnlySpan<byte> key, Timestamp ts)
    {
        var (_, end) = TxnKeys.VersionBounds(key);
        using var it = engine.NewIterator(ColumnFamily.Write, TxnKeys.WriteKey(key, ts), end, snapshot);
        return it.SeekToFirst() ? Decode(it) : null;
    }

    public (Timestamp CommitTs, WriteRecord Record)? FindWriteOf(ReadOnlySpan<byte> key, Timestamp startTs)
    {
        // Versions newest first; a record of startTs has commit_ts >= startTs, so stop below it.
        var (start, _) = TxnKeys.VersionBounds(key);
        var upper = TxnKeys.WriteKey(key, startTs);
        var end = new byte[upper.Length + 1];
        upper.CopyTo(end, 0);
        using var it = engine.NewIterator(ColumnFamily.Write, start, end, snapshot);
        for (var ok = it.SeekToFirst(); ok; ok = it.Next())
        {
            var found = Decode(it);
            if (found.Record.StartTs == startTs)
            {
                return found;
            }

            if (found.CommitTs == startTs && found.Record.OverlappedRollback)
            {
                return (startTs, new WriteRecord(WriteType.Rollback, startTs, Protected: true, null));
            }
        }

        return null;
    }

    public byte[]? LoadValue(ReadOnlySpan<byte> key, Timestamp startTs) =>
        engine.Get(ColumnFamily.Default, TxnKeys.DataKey(key, startTs), snapshot);

    public IEnumerable<(byte[] Key, MvccLock Lock)> ScanLocks(byte[] start, byte[] end)
    {
        using var it = engine.NewIterator(ColumnFamily.Lock, TxnKeys.SpanLower(start), TxnKeys.SpanUpper(end), snapshot);
        for (var ok = it.SeekToFirst(); ok; ok = it.Next())
        {
            if (!TxnKeys.TryDecodeLockKey(it.Key, out var userKey))
            {
                throw new InvalidDataException($"lock CF key {Convert.ToHexString(it.Key)} is not a transactional key");
            }

            yield return (userKey, DecodeLock(it.Value.ToArray()));
        }
    }

    public IEnumerable<byte[]> ScanUserKeys(byte[] start, byte[] end, bool reverse)
    {
        var comparer = ByteArrayOrder.Instance;
        using var locks = UserKeys(ColumnFamily.Lock, start, end, reverse).GetEnumerator();
        using var writes = UserKeys(ColumnFamily.Write, start, end, reverse).GetEnumerator();
        var hasLock = locks.MoveNext();
        var hasWrite = writes.MoveNext();
        while (hasLock || hasWrite)
        {
            int c = !hasLock ? 1 : !hasWrite ? -1 : comparer.Compare(locks.Current, writes.Current) * (reverse ? -1 : 1);
            if (c <= 0)
            {
                yield return locks.Current;
                hasWrite = c == 0 ? writes.MoveNext() : hasWrite;
                hasLock = locks.MoveNext();
            }
            else
            {
                yield return writes.Current;
                hasWrite = writes.MoveNext();
            }
        }
    }

    private IEnumerable<byte[]> UserKeys(ColumnFamily cf, byte[] start, byte[] end, bool reverse)
    {
        using var it = engine.NewIterator(cf, TxnKeys.SpanLower(start), TxnKeys.SpanUpper(end), snapshot);
        var ok = reverse ? it.SeekToLast() : it.SeekToFirst();
        while (ok)
        {
            byte[] userKey;
            if (cf == ColumnFamily.Lock ? !TxnKeys.TryDecodeLockKey(it.Key, out userKey) : !TxnKeys.TryDecodeVersionKey(it.Key, out userKey, out _))
            {
                throw new InvalidDataException($"{ColumnFamilyNames.Of(cf)} CF key {Convert.ToHexString(it.Key)} is not a transactional key");
            }

            yield return userKey;
            if (cf == ColumnFamily.Lock)
            {
                ok = reverse ? it.Prev() : it.Next();
            }
            else
            {
                // Skip the key's other versions: past its last version, or before its first.
                ok = reverse ? it.SeekForPrev(TxnKeys.LockKey(userKey)) : it.Seek(TxnKeys.VersionBounds(userKey).End);
            }
        }
    }

    private static (Timestamp CommitTs, WriteRecord Record) Decode(EngineIterator it)
    {
        if (!TxnKeys.TryDecodeVersionKey(it.Key, out _, out var commitTs) || !WriteRecord.TryDecode(it.Value, out var record, out var error))
        {
            throw new InvalidDataException($"write CF entry {Convert.ToHexString(it.Key)} does not decode");
        }

        return (commitTs, record!);
    }

    private static MvccLock DecodeLock(byte[] raw) =>
        MvccLock.TryDecode(raw, out var value, out var error) ? value! : throw new InvalidDataException($"lock record does not decode: {error}");
}

/// <summary>Lexicographic order of byte strings.</summary>
public sealed class ByteArrayOrder : IComparer<byte[]>
{
    public static ByteArrayOrder Instance { get; } = new();

    public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y.AsSpan());
}
