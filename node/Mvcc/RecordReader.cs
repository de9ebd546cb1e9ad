using System.Buffers.Binary;
using Kv.Client;

namespace Kv.Node.Mvcc;

/// <summary>Little helpers shared by the lock and write record codecs: varint-free, length-prefixed big-endian fields.</summary>
internal ref struct RecordReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _offset;

    public readonly bool AtEnd => _offset == _data.Length;

    public readonly int Offset => _offset;

    public bool TryByte(out byte value)
    {
        value = 0;
        if (_data.Length - _offset < 1)
        {
            return false;
        }

        value = _data[_offset++];
        return true;
    }

    public bool TryU64(out ulong value)
    {
        value = 0;
        if (_data.Length - _offset < 8)
        {
            return false;
        }

        value = BinaryPrimitives.ReadUInt64BigEndian(_data[_offset..]);
        _offset += 8;
        return true;
    }

    public bool TryBytes(out byte[] value)
    {
        value = [];
        if (_data.Length - _offset < 4)
        {
            return false;
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(_data[_offset..]);
        if (length > (uint)(_data.Length - _offset - 4))
        {
            return false;
        }

        _offset += 4;
        value = _data.Slice(_offset, (int)length).ToArray();
        _offset += (int)length;
        return true;
    }
}

internal static class MvccWriter
{
    public static void U64(List<byte> buffer, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        buffer.AddRange(bytes);
    }

    public static void Bytes(List<byte> buffer, ReadOnlySpan<byte> value)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(length, (uint)value.Length);
        buffer.AddRange(length);
        buffer.AddRange(value);
    }

    public static void Ts(List<byte> buffer, Timestamp ts) => U64(buffer, ts.Value);
}
