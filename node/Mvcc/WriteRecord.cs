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
/// <see cref="OverlappedRollback"/> (TiKV's has_overlapped_rollback): a commit record at
/// <c>key@T</c> whose commit_ts T is also the start_ts of a transaction rolled back on this key.
/// Both records would have the same engine key; neither may replace the other (the commit would be
/// lost, or the rollback's protection would), so the rollback survives as this flag on the commit.
/// Encoded as: version byte 1, type, start_ts, flags (bit 0 protected, bit 1 overlapped rollback),
/// has-short-value flag, short value.
/// </summary>
public sealed record WriteRecord(WriteType Type, Timestamp StartTs, bool Protected, byte[]? ShortValue, bool OverlappedRollback = false)
{
    private const byte ProtectedFlag = 1;
    private const byte OverlappedRollbackFlag = 2;

    private const byte FormatVersion = 1;

    public byte[] Encode()
    {
        var buffer = new List<byte>(20 + (ShortValue?.Length ?? 0));
        buffer.Add(FormatVersion);
        buffer.Add((byte)Type);
        MvccWriter.Ts(buffer, StartTs);
        buffer.Add((byte)((Protected ? ProtectedFlag : 0) | (OverlappedRollback ? OverlappedRollbackFlag : 0)));
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

        if (!reader.TryU64(out ulong startTs) || !reader.TryByte(out byte flags) || flags > (ProtectedFlag | OverlappedRollbackFlag)
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

        value = new WriteRecord((WriteType)type, new Timestamp(startTs), (flags & ProtectedFlag) != 0, hasShort == 1 ? shortValue : null,
            (flags & OverlappedRollbackFlag) != 0);
        error = "";
        return true;
    }
}
