using Kv.Client;
using Kv.Node.Storage;

namespace Kv.Node.Mvcc;

/// <summary>
/// One bounded batch of GC over a span of user keys: reads each key's write records from one
/// engine snapshot, applies <see cref="GcRule"/>, and collects the deletes into an
/// <see cref="MvccTxn"/>, which the range leader proposes as a replicated command so every
/// replica deletes exactly the same records.
/// </summary>
public static class GcBatch
{
    /// <summary>
    /// Examines at most <paramref name="maxKeys"/> user keys with write records in [start, end)
    /// (end empty: no bound) and adds their garbage to <paramref name="txn"/>. Returns how many
    /// write records it drops and the user key to resume at (null when the span is done).
    /// </summary>
    public static (int DroppedWrites, byte[]? Resume) Collect(Engine engine, EngineSnapshot snapshot, byte[] start, byte[] end, Timestamp safePoint, int maxKeys, MvccTxn txn)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(txn);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxKeys, 1);
        int dropped = 0, examined = 0;
        byte[]? current = null;
        var versions = new List<(Timestamp CommitTs, WriteRecord Record)>();
        using var it = engine.NewIterator(ColumnFamily.Write, TxnKeys.SpanLower(start), TxnKeys.SpanUpper(end), snapshot);
        for (var ok = it.SeekToFirst(); ok; ok = it.Next())
        {
            if (!TxnKeys.TryDecodeVersionKey(it.Key, out var userKey, out var commitTs) || !WriteRecord.TryDecode(it.Value, out var record, out _))
            {
                throw new InvalidDataException($"write CF entry {Convert.ToHexString(it.Key)} does not decode");
            }

            if (current is null || !userKey.AsSpan().SequenceEqual(current))
            {
                if (current is not null)
                {
                    dropped += Drop(current, versions, safePoint, txn);
                    if (++examined == maxKeys)
                    {
                        return (dropped, userKey);
                    }
                }

                current = userKey;
                versions.Clear();
            }

            versions.Add((commitTs, record!)); // the write CF keeps a key's versions newest first
        }

        if (current is not null)
        {
            dropped += Drop(current, versions, safePoint, txn);
        }

        return (dropped, null);
    }

    private static int Drop(byte[] key, List<(Timestamp CommitTs, WriteRecord Record)> versions, Timestamp safePoint, MvccTxn txn)
    {
        var garbage = GcRule.Collect(versions, safePoint);
        foreach (var commitTs in garbage.WriteCommitTs)
        {
            txn.DeleteWrite(key, commitTs);
        }

        foreach (var startTs in garbage.ValueStartTs)
        {
            txn.DeleteValue(key, startTs);
        }

        return garbage.WriteCommitTs.Count;
    }
}
