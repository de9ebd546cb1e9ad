using System.Buffers.Binary;

namespace Kv.Client.Rpc.Wire;

/// <summary>
/// The 5-byte prefix of a gRPC message: Compressed-Flag (0 or 1) and a 32-bit big-endian length.
/// </summary>
public static class MessageFrame
{
    /// <summary>Writes an uncompressed prefix for a message of <paramref name="length"/> bytes.</summary>
    public static void WriteHeader(Span<byte> destination, int length)
    {
        destination[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(1, 4), (uint)length);
    }

    /// <summary>Reads a prefix. Length is unsigned on the wire, so it is returned as a long.</summary>
    public static void ReadHeader(ReadOnlySpan<byte> source, out byte compressedFlag, out long length)
    {
        compressedFlag = source[0];
        length = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(1, 4));
    }
}
