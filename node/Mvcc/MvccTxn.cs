using Google.Protobuf;
using Kv.Client;
using Kv.Proto.V1;

namespace Kv.Node.Mvcc;

/// <summary>The engine writes one transactional command makes, collected for its TxnWriteCommand.</summary>
public sealed class MvccTxn
{
    private readonly List<EngineWrite> writes = [];
    private readonly List<ByteString> userKeys = [];

    public IReadOnlyList<EngineWrite> Writes => writes;

    /// <summary>The user keys written (what apply checks against the range).</summary>
    public IReadOnlyList<ByteString> UserKeys => userKeys;

    public void PutLock(ReadOnlySpan<byte> key, MvccLock value) => Add("lock", key, TxnKeys.LockKey(key), value.Encode());

    public void DeleteLock(ReadOnlySpan<byte> key) => Add("lock", key, TxnKeys.LockKey(key), null);

    public void PutWrite(ReadOnlySpan<byte> key, Timestamp commitTs, WriteRecord value) => Add("write", key, TxnKeys.WriteKey(key, commitTs), value.Encode());

    public void DeleteWrite(ReadOnlySpan<byte> key, Timestamp commitTs) => Add("write", key, TxnKeys.WriteKey(key, commitTs), null);

    public void PutValue(ReadOnlySpan<byte> key, Timestamp startTs, ReadOnlySpan<byte> value) => Add("default", key, TxnKeys.DataKey(key, startTs), value.ToArray());

    public void DeleteValue(ReadOnlySpan<byte> key, Timestamp startTs) => Add("default", key, TxnKeys.DataKey(key, startTs), null);

    /// <summary>Forgets every write (a refused command changes nothing).</summary>
    public void Clear()
    {
        writes.Clear();
        userKeys.Clear();
    }

    /// <summary>The Raft command carrying these writes.</summary>
    public TxnWriteCommand ToCommand() => new() { UserKeys = { userKeys }, Writes = { writes } };

    private void Add(string cf, ReadOnlySpan<byte> userKey, byte[] engineKey, byte[]? value)
    {
        var user = ByteString.CopyFrom(userKey);
        if (!userKeys.Contains(user))
        {
            userKeys.Add(user);
        }

        writes.Add(value is null
            ? new EngineWrite { ColumnFamily = cf, Key = UnsafeByteOperations.UnsafeWrap(engineKey), Delete = true }
            : new EngineWrite { ColumnFamily = cf, Key = UnsafeByteOperations.UnsafeWrap(engineKey), Value = UnsafeByteOperations.UnsafeWrap(value) });
    }
}
