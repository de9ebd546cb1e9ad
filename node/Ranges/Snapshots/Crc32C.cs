using System.Buffers.Binary;
using System.Runtime.Intrinsics.X86;

namespace Kv.Node.Ranges.Snapshots;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of snapshot files and
/// chunks. System.IO.Hashing is not available here, so this is the classic table-driven form,
/// with the SSE4.2 instruction as a fast path where the CPU has it (same results; both tested).
/// Incremental use: <c>crc = Append(crc, part)</c> for each part, starting from 0.
/// </summary>
internal static class Crc32C
{
    private const uint Polynomial = 0x82F63B78;
    private static readonly uint[] Table = BuildTable();

    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>The CRC-32C of the bytes that gave <paramref name="crc"/> followed by <paramref name="data"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data) =>
        Sse42.X64.IsSupported ? ~Hardware(~crc, data) : ~Software(~crc, data);

    /// <summary>The table-driven path alone, for tests that compare it with the hardware path.</summary>
    internal static uint ComputeSoftware(ReadOnlySpan<byte> data) => ~Software(~0u, data);

    private static uint Software(uint crc, ReadOnlySpan<byte> data)
    {
        var table = Table;
        foreach (var b in data)
        {
            crc = table[(byte)(crc ^ b)] ^ (crc >> 8);
        }

        return crc;
    }

    private static uint Hardware(uint crc, ReadOnlySpan<byte> data)
    {
        ulong c = crc;
        while (data.Length >= 8)
        {
            c = Sse42.X64.Crc32(c, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        var c32 = (uint)c;
        foreach (var b in data)
        {
            c32 = Sse42.Crc32(c32, b);
        }

        return c32;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? (c >> 1) ^ Polynomial : c >> 1;
            }

            table[i] = c;
        }

        return table;
    }
}
