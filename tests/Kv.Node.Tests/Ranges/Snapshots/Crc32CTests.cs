using System.Text;
using Kv.Node.Ranges.Snapshots;

namespace Kv.Node.Tests.Ranges.Snapshots;

public sealed class Crc32CTests
{
    [Fact]
    public void Check_value_of_the_standard_test_vector()
    {
        // RFC 3720 (iSCSI) appendix B.4 and every CRC catalogue: CRC-32C("123456789") = 0xE3069283.
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0xE3069283u, Crc32C.ComputeSoftware("123456789"u8));
    }

    [Fact]
    public void Rfc3720_vectors_of_32_zero_and_32_ff_bytes()
    {
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
    }

    [Fact]
    public void Hardware_and_table_paths_agree_and_appending_equals_one_pass()
    {
        var random = new Random(6);
        foreach (var length in new[] { 0, 1, 7, 8, 9, 63, 64, 1000, 4097 })
        {
            var data = new byte[length];
            random.NextBytes(data);
            var whole = Crc32C.Compute(data);
            Assert.Equal(Crc32C.ComputeSoftware(data), whole);
            var cut = length / 3;
            Assert.Equal(whole, Crc32C.Append(Crc32C.Compute(data.AsSpan(0, cut)), data.AsSpan(cut)));
        }
    }

    [Fact]
    public void A_flipped_bit_changes_the_checksum()
    {
        var data = Encoding.ASCII.GetBytes("a snapshot chunk");
        var before = Crc32C.Compute(data);
        data[3] ^= 0x10;
        Assert.NotEqual(before, Crc32C.Compute(data));
    }
}
