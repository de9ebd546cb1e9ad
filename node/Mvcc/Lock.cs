using Kv.Client;

namespace Kv.Node.Mvcc;

/// <summary>What a Percolator lock guards (shared/DESIGN.md section 6).</summary>
public enum LockType : byte
{
    Put = 1,
    Delete = 2,
    Lock = 3,
}

/// <summary>
/// A value in the lock column family: one per key at most. <see cref="ShortValue"/> holds a small
/// value inline (null: the value is in the default CF, or there is none); <see cref="Secondaries"/>
/// is set on the primary lock only. Encoded as: version byte 1, type, primary, start_ts, ttl_ms,
/// has-short-value flag, short value, secondaries count, secondaries (byte strings are 4-byte
/// big-endian length prefixed, integers 8-byte big endian).
/// </summary>
public sealed record MvccLock(
    LockType Type,
    byte[] Primary,
    Timestamp StartTs,
    ulong TtlMs,
    byte[]? ShortValue,
    IReadOnlyList<byte[]> Secondaries)
{
    private const byte FormatVersion = 1;

    public byte[] Encode()
    {
        var buffer = new List<byte>(32 + Primary.Length + (ShortValue?.Length ?? 0));
        buffer.Add(FormatVersion);
        buffer.Add((byte)Type);
        MvccWriter.Bytes(buffer, Primary);
        MvccWriter.Ts(buffer, StartTs);
        MvccWriter.U64(buffer, TtlMs);
        buffer.Add(ShortValue is null ? (byte)0 : (byte)1);
        MvccWriter.Bytes(buffer, ShortValue ?? []);
        MvccWriter.U64(buffer, (ulong)Secondaries.Count);
        foreach (var secondary in Secondaries)
        {
            MvccWriter.Bytes(buffer, secondary);
        }

        return [.. buffer];
    }

    /// <summary>Decodes <see cref="Encode"/>'s output; false with a reason on malformed input.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, out MvccLock? value, out string error)
    {
        value = null;
        var reader = new RecordReader(data);
        if (!reader.TryByte(out byte version) || version != FormatVersion)
        {
            error = data.IsEmpty ? "empty lock record" : $"unknown lock record version {data[0]}; expected {FormatVersion}";
            return false;
        }

        if (!reader.TryByte(out byte type) || type is < (byte)LockType.Put or > (byte)LockType.Lock)
        {
            error = $"bad or missing lock type at offset {reader.Offset}";
            return false;
        }

        if (!reader.TryBytes(out byte[] primary) || !reader.TryU64(out ulong startTs) || !reader.TryU64(out ulong ttl)
            || !reader.TryByte(out byte hasShort) || hasShort > 1 || !reader.TryBytes(out byte[] shortValue)
            || !reader.TryU64(out ulong count))
        {
            error = $"truncated or malformed lock record at offset {reader.Offset}";
            return false;
        }

        if (count > (ulong)data.Length)
        {
            error = $"lock record claims {count} secondaries in {data.Length} bytes";
            return false;
        }

        var secondaries = new List<byte[]>((int)count);
        for (ulong i = 0; i < count; i++)
        {
            if (!reader.TryBytes(out byte[] secondary))
            {
                error = $"truncated secondary {i} at offset {reader.Offset}";
                return false;
            }

            secondaries.Add(secondary);
        }

        if (!reader.AtEnd)
        {
            error = $"trailing bytes after the lock record at offset {reader.Offset}";
            return false;
        }

        value = new MvccLock((LockType)type, primary, new Timestamp(startTs), ttl, hasShort == 1 ? shortValue : null, secondaries);
        error = "";
        return true;
    }
}
