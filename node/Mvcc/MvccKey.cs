using System.Buffers.Binary;
using Kv.Client;

namespace Kv.Node.Mvcc;

/// <summary>
/// Memcomparable encoding of MVCC keys (shared/DESIGN.md sections 3 and 6). A user key is written
/// in 8-byte groups, each zero-padded and followed by a marker byte <c>0xFF - padding</c>; the last
/// group always has padding (an empty group when the length is a multiple of 8). Encoded keys sort
/// like raw keys and no encoded key is a prefix of another. A versioned key appends the timestamp
/// inverted (<c>~ts</c>, 8 bytes big endian) so that, for one key, newer versions sort first.
/// Pure and I/O-free; decoding refuses malformed input through Try* methods.
/// </summary>
public static class MvccKey
{
    private const int GroupSize = 8;
    private const byte Marker = 0xFF;
    private const int TsSize = 8;

    /// <summary>Length of <see cref="EncodeUserKey"/>'s result for a raw key of <paramref name="rawLength"/> bytes.</summary>
    public static int EncodedLength(int rawLength) => (rawLength / GroupSize + 1) * (GroupSize + 1);

    /// <summary>The memcomparable encoding of <paramref name="raw"/>, without a timestamp.</summary>
    public static byte[] EncodeUserKey(ReadOnlySpan<byte> raw)
    {
        var result = new byte[EncodedLength(raw.Length)];
        WriteUserKey(raw, result);
        return result;
    }

    /// <summary>The encoded user key followed by <c>~ts</c>: the key of the version written at <paramref name="ts"/>.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> raw, Timestamp ts)
    {
        int keyLength = EncodedLength(raw.Length);
        var result = new byte[keyLength + TsSize];
        WriteUserKey(raw, result);
        BinaryPrimitives.WriteUInt64BigEndian(result.AsSpan(keyLength), ~ts.Value);
        return result;
    }

    /// <summary>
    /// Where a read at <paramref name="ts"/> seeks: the first entry at or after it is the newest
    /// version with a timestamp at or below <paramref name="ts"/> (if it still has the same user key).
    /// </summary>
    public static byte[] SeekKey(ReadOnlySpan<byte> raw, Timestamp ts) => Encode(raw, ts);

    /// <summary>
    /// Bounds of every version of <paramref name="raw"/>: <c>[Start, End)</c>. Start is the newest
    /// possible version (ts = max), End is the encoded user key followed by nine 0xFF bytes: after
    /// every 8-byte version suffix of this key and, encoded keys being prefix-free, before every other key.
    /// </summary>
    public static (byte[] Start, byte[] End) VersionBounds(ReadOnlySpan<byte> raw)
    {
        int keyLength = EncodedLength(raw.Length);
        var start = new byte[keyLength + TsSize];
        WriteUserKey(raw, start);
        // ~ulong.MaxValue == 0: the newest version.
        var end = new byte[keyLength + TsSize + 1];
        WriteUserKey(raw, end);
        end.AsSpan(keyLength).Fill(0xFF);
        return (start, end);
    }

    /// <summary>Decodes a key produced by <see cref="EncodeUserKey"/>; false (and no key) on malformed input.</summary>
    public static bool TryDecodeUserKey(ReadOnlySpan<byte> encoded, out byte[] raw, out string error)
    {
        if (!TryReadUserKey(encoded, out raw, out int consumed, out error))
        {
            return false;
        }

        if (consumed != encoded.Length)
        {
            raw = [];
            error = $"{encoded.Length - consumed} trailing bytes after the encoded user key; pass a key without a timestamp or use TryDecode";
            return false;
        }

        return true;
    }

    /// <summary>Decodes a key produced by <see cref="Encode"/>; false (and no key) on malformed input.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> encoded, out byte[] raw, out Timestamp ts, out string error)
    {
        ts = default;
        if (!TryReadUserKey(encoded, out raw, out int consumed, out error))
        {
            return false;
        }

        if (encoded.Length - consumed != TsSize)
        {
            raw = [];
            error = $"expected an 8-byte timestamp after the encoded user key, found {encoded.Length - consumed} bytes";
            return false;
        }

        ts = new Timestamp(~BinaryPrimitives.ReadUInt64BigEndian(encoded[consumed..]));
        return true;
    }

    private static void WriteUserKey(ReadOnlySpan<byte> raw, Span<byte> destination)
    {
        int offset = 0;
        int read = 0;
        while (true)
        {
            int take = Math.Min(GroupSize, raw.Length - read);
            raw.Slice(read, take).CopyTo(destination.Slice(offset));
            destination.Slice(offset + take, GroupSize - take).Clear();
            destination[offset + GroupSize] = (byte)(Marker - (GroupSize - take));
            read += take;
            offset += GroupSize + 1;
            if (take < GroupSize)
            {
                return;
            }
        }
    }

    private static bool TryReadUserKey(ReadOnlySpan<byte> encoded, out byte[] raw, out int consumed, out string error)
    {
        raw = [];
        consumed = 0;
        var buffer = new List<byte>(encoded.Length);
        while (true)
        {
            if (encoded.Length - consumed < GroupSize + 1)
            {
                error = $"truncated encoded key: a group needs {GroupSize + 1} bytes at offset {consumed}, {encoded.Length - consumed} left";
                return false;
            }

            var group = encoded.Slice(consumed, GroupSize);
            byte marker = encoded[consumed + GroupSize];
            int padding = Marker - marker;
            if (padding < 0 || padding > GroupSize)
            {
                error = $"bad group marker 0x{marker:X2} at offset {consumed + GroupSize}; expected 0xF7..0xFF";
                return false;
            }

            int used = GroupSize - padding;
            foreach (byte pad in group[used..])
            {
                if (pad != 0)
                {
                    error = $"non-zero padding in the group at offset {consumed}";
                    return false;
                }
            }

            foreach (byte b in group[..used])
            {
                buffer.Add(b);
            }

            consumed += GroupSize + 1;
            if (padding > 0)
            {
                raw = [.. buffer];
                error = "";
                return true;
            }
        }
    }
}
