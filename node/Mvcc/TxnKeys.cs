using Kv.Client;

namespace Kv.Node.Mvcc;

/// <summary>
/// Engine key layout of transactional data (shared/DESIGN.md sections 3 and 6). Every key starts
/// with <see cref="Prefix"/> ('x'; raw KV keeps 'z', see node/Ranges/Keys.cs):
///  lock CF:    'x' + EncodeUserKey(k)          the MvccLock of k (one at most)
///  write CF:   'x' + Encode(k, commit_ts)      the WriteRecord committed (or rolled back) at commit_ts
///  default CF: 'x' + Encode(k, start_ts)       the value written by start_ts (only values above
///                                              <see cref="MaxShortValue"/> bytes; smaller ones ride in the lock and write record)
/// A range [start, end) of user keys covers [<see cref="SpanLower"/>, <see cref="SpanUpper"/>) in each of the three families.
/// </summary>
public static class TxnKeys
{
    public const byte Prefix = (byte)'x';

    /// <summary>Values up to this size are stored inline (lock and write record), never in the default CF.</summary>
    public const int MaxShortValue = 255;

    /// <summary>The exclusive upper bound of every transactional key.</summary>
    public static readonly byte[] End = [Prefix + 1];

    public static byte[] LockKey(ReadOnlySpan<byte> userKey) => Prefixed(MvccKey.EncodeUserKey(userKey));

    public static byte[] WriteKey(ReadOnlySpan<byte> userKey, Timestamp commitTs) => Prefixed(MvccKey.Encode(userKey, commitTs));

    public static byte[] DataKey(ReadOnlySpan<byte> userKey, Timestamp startTs) => Prefixed(MvccKey.Encode(userKey, startTs));

    /// <summary>Bounds of every version of userKey in the write or default CF.</summary>
    public static (byte[] Start, byte[] End) VersionBounds(ReadOnlySpan<byte> userKey)
    {
        var (start, end) = MvccKey.VersionBounds(userKey);
        return (Prefixed(start), Prefixed(end));
    }

    public static byte[] SpanLower(ReadOnlySpan<byte> startUserKey) => LockKey(startUserKey);

    /// <summary>The upper engine bound for user keys below endUserKey; empty means to the end of the key space.</summary>
    public static byte[] SpanUpper(ReadOnlySpan<byte> endUserKey) => endUserKey.IsEmpty ? End : LockKey(endUserKey);

    /// <summary>Decodes a lock CF key.</summary>
    public static bool TryDecodeLockKey(ReadOnlySpan<byte> engineKey, out byte[] userKey)
    {
        userKey = [];
        return !engineKey.IsEmpty && engineKey[0] == Prefix && MvccKey.TryDecodeUserKey(engineKey[1..], out userKey, out _);
    }

    /// <summary>Decodes a write or default CF key.</summary>
    public static bool TryDecodeVersionKey(ReadOnlySpan<byte> engineKey, out byte[] userKey, out Timestamp ts)
    {
        userKey = [];
        ts = default;
        return !engineKey.IsEmpty && engineKey[0] == Prefix && MvccKey.TryDecode(engineKey[1..], out userKey, out ts, out _);
    }

    private static byte[] Prefixed(byte[] encoded)
    {
        var k = new byte[encoded.Length + 1];
        k[0] = Prefix;
        encoded.CopyTo(k, 1);
        return k;
    }
}
