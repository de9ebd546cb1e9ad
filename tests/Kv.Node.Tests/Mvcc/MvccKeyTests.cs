using Kv.Client;
using Kv.Node.Mvcc;

namespace Kv.Node.Tests.Mvcc;

public class MvccKeyTests
{
    private static int CompareBytes(byte[] a, byte[] b) => a.AsSpan().SequenceCompareTo(b);

    private static byte[] RandomKey(Random random)
    {
        // Small alphabet and lengths around group boundaries so that prefixes and ties are common.
        var key = new byte[random.Next(0, 20)];
        for (int i = 0; i < key.Length; i++)
        {
            key[i] = (byte)(random.Next(4) switch { 0 => 0, 1 => 0xFF, 2 => 1, _ => random.Next(256) });
        }

        return key;
    }

    [Fact]
    public void EncodedOrderIsRawKeyAscendingThenTimestampDescending()
    {
        var random = new Random(7);
        for (int round = 0; round < 2000; round++)
        {
            byte[] ka = RandomKey(random), kb = RandomKey(random);
            var ta = new Timestamp((ulong)random.NextInt64() >> random.Next(60));
            var tb = random.Next(3) == 0 ? ta : new Timestamp((ulong)random.NextInt64() >> random.Next(60));
            int expected = CompareBytes(ka, kb);
            if (expected == 0)
            {
                expected = tb.Value.CompareTo(ta.Value);
            }

            int actual = CompareBytes(MvccKey.Encode(ka, ta), MvccKey.Encode(kb, tb));
            Assert.Equal(Math.Sign(expected), Math.Sign(actual));
            Assert.Equal(Math.Sign(CompareBytes(ka, kb)), Math.Sign(CompareBytes(MvccKey.EncodeUserKey(ka), MvccKey.EncodeUserKey(kb))));
        }
    }

    [Fact]
    public void NoEncodedUserKeyIsAPrefixOfAnother()
    {
        var random = new Random(11);
        for (int round = 0; round < 2000; round++)
        {
            byte[] ka = RandomKey(random), kb = RandomKey(random);
            if (ka.AsSpan().SequenceEqual(kb))
            {
                continue;
            }

            byte[] ea = MvccKey.EncodeUserKey(ka), eb = MvccKey.EncodeUserKey(kb);
            Assert.False(eb.AsSpan().StartsWith(ea), $"{Convert.ToHexString(ea)} prefixes {Convert.ToHexString(eb)}");
        }
    }

    [Fact]
    public void RoundTrips()
    {
        var random = new Random(13);
        for (int round = 0; round < 500; round++)
        {
            var key = RandomKey(random);
            var ts = new Timestamp((ulong)random.NextInt64());
            Assert.True(MvccKey.TryDecode(MvccKey.Encode(key, ts), out var raw, out var decodedTs, out var error), error);
            Assert.Equal(key, raw);
            Assert.Equal(ts, decodedTs);
            Assert.True(MvccKey.TryDecodeUserKey(MvccKey.EncodeUserKey(key), out raw, out error), error);
            Assert.Equal(key, raw);
        }
    }

    [Fact]
    public void EncodingOfKnownKeysMatchesGroupEncoding()
    {
        Assert.Equal("0000000000000000F7", Convert.ToHexString(MvccKey.EncodeUserKey([])));
        Assert.Equal("0102030000000000FA", Convert.ToHexString(MvccKey.EncodeUserKey([1, 2, 3])));
        Assert.Equal("0102030405060708FF0000000000000000F7", Convert.ToHexString(MvccKey.EncodeUserKey([1, 2, 3, 4, 5, 6, 7, 8])));
    }

    [Fact]
    public void SeekAtTsLandsOnNewestVersionAtOrBelowIt()
    {
        byte[] key = [9, 9];
        var versions = new[] { 5UL, 10UL, 20UL }.Select(t => MvccKey.Encode(key, new Timestamp(t))).ToList();
        versions.Sort(CompareBytes);
        var seek = MvccKey.SeekKey(key, new Timestamp(15));
        var first = versions.First(v => CompareBytes(v, seek) >= 0);
        Assert.True(MvccKey.TryDecode(first, out _, out var ts, out _));
        Assert.Equal(10UL, ts.Value);
    }

    [Fact]
    public void VersionBoundsContainExactlyTheKeysVersions()
    {
        byte[] key = [1, 2, 3, 4, 5, 6, 7, 8];
        var (start, end) = MvccKey.VersionBounds(key);
        foreach (var ts in new[] { 0UL, 1UL, ulong.MaxValue })
        {
            var encoded = MvccKey.Encode(key, new Timestamp(ts));
            Assert.True(CompareBytes(start, encoded) <= 0 && CompareBytes(encoded, end) < 0);
        }

        foreach (byte[] other in new byte[][] { [1, 2, 3, 4, 5, 6, 7, 8, 0], [1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 9] })
        {
            var encoded = MvccKey.Encode(other, new Timestamp(0));
            var encodedMax = MvccKey.Encode(other, Timestamp.Max);
            Assert.False(CompareBytes(start, encoded) <= 0 && CompareBytes(encoded, end) < 0);
            Assert.False(CompareBytes(start, encodedMax) <= 0 && CompareBytes(encodedMax, end) < 0);
        }
    }

    [Fact]
    public void RefusesTruncatedAndGarbageInput()
    {
        var encoded = MvccKey.Encode([1, 2, 3, 4, 5, 6, 7, 8, 9], new Timestamp(42));
        for (int length = 0; length < encoded.Length; length++)
        {
            Assert.False(MvccKey.TryDecode(encoded.AsSpan(0, length), out var raw, out _, out var error));
            Assert.Empty(raw);
            Assert.NotEmpty(error);
        }

        Assert.False(MvccKey.TryDecodeUserKey([1, 0, 0, 0, 0, 0, 0, 0, 0x10], out _, out var badMarker));
        Assert.Contains("marker", badMarker, StringComparison.Ordinal);
        Assert.False(MvccKey.TryDecodeUserKey([1, 0, 0, 0, 0, 0, 0, 5, 0xF8], out _, out var badPadding));
        Assert.Contains("padding", badPadding, StringComparison.Ordinal);
        Assert.False(MvccKey.TryDecodeUserKey(MvccKey.Encode([1], new Timestamp(1)), out _, out var trailing));
        Assert.Contains("trailing", trailing, StringComparison.Ordinal);
    }
}
