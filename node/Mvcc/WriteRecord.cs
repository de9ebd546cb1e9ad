using Kv.Client;

namespace Kv.Node.Mvcc;

/// <summary>Kind of a write-CF record (shared/DESIGN.md section 6).</summary>
public enum WriteType : byte
{
    Put = 1,
    Delete = 2,
    Rollback = 3,
    Lock = 4,
}

/// <summary>
/// A value in the write column family, keyed by the user key and <c>~commit_ts</c>.
/// <see cref="Protected"/> marks a rollback that must not be collapsed (so a late prewrite fails).
/// Encoded as: version byte 1, type, start_ts, protected flag, has-short-value flag, short value.
/// </summary>
public sealed record WriteRecord(WriteType Type, Timestamp StartTs, bool Protected, byte[]? ShortValue)
{
    private const byte FormatVersion = 1;

    public byte[] Encode()
    {
        var buffer = new List<byte>(20 + (ShortValue?.Length ?? 0));
        buffer.Add(FormatVersion);
        buffer.Add((byte)Type);
        MvccWriter.Ts(buffer, StartTs);
        buffer.Add(Protected ? (byte)1 : (byte)0);
        buffer.Add(ShortValue is null ? (byte)0 : (byte)1);
        MvccWriter.Bytes(buffer, ShortValue ?? []);
        return [.. buffer];
    }

    /// <summary>Decodes <see cref="Encode"/>'s output; false with a reason on malformed input.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, out WriteRecord? value, out string error)
    {
        value = null;
        var reader = new RecordReader(data);
        if (!reader.TryByte(out byte version) || version != FormatVersion)
        {
            error = data.IsEmpty ? "empty write record" : $"unknown write record version {data[0]}; expected {FormatVersion}";
            return false;
        }

        if (!reader.TryByte(out byte type) || type is < (byte)WriteType.Put or > (byte)WriteType.Lock)
        {
            error = $"bad or missing write type at offset {reader.Offset}";
            return false;
        }

        if (!reader.TryU64(out ulong startTs) || !reader.TryByte(out byte isProtected) || isProtected > 1
            || !reader.TryByte(out byte hasShort) || hasShort > 1 || !reader.TryBytes(out byte[] shortValue))
        {
            error = $"truncated or malformed write record at offset {reader.Offset}";
            return false;
        }

        if (!reader.AtEnd)
        {
            error = $"trailing bytes after the write record at offset {reader.Offset}";
            return false;
        }

        value = new WriteRecord((WriteType)type, new Timestamp(startTs), isProtected == 1, hasShort == 1 ? shortValue : null);
        error = "";
        return true;
    }
}
