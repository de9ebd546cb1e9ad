using Kv.Client;
using Kv.Node.Mvcc;

namespace Kv.Node.Tests.Mvcc;

public class MvccRecordTests
{
    [Fact]
    public void LockRoundTrips()
    {
        var primary = new MvccLock(LockType.Put, [1, 2], new Timestamp(100), 3000, [7, 7, 7], [[3], [4, 5], []]);
        Assert.True(MvccLock.TryDecode(primary.Encode(), out var decoded, out var error), error);
        Assert.NotNull(decoded);
        Assert.Equal(LockType.Put, decoded.Type);
        Assert.Equal(primary.Primary, decoded.Primary);
        Assert.Equal(new Timestamp(100), decoded.StartTs);
        Assert.Equal(3000UL, decoded.TtlMs);
        Assert.Equal(primary.ShortValue, decoded.ShortValue);
        Assert.Equal(3, decoded.Secondaries.Count);
        Assert.Equal([4, 5], decoded.Secondaries[1]);

        var secondary = new MvccLock(LockType.Delete, [1, 2], new Timestamp(5), 10, null, []);
        Assert.True(MvccLock.TryDecode(secondary.Encode(), out decoded, out error), error);
        Assert.Null(decoded!.ShortValue);
        Assert.Empty(decoded.Secondaries);
        Assert.Equal(LockType.Delete, decoded.Type);
    }

    [Fact]
    public void WriteRecordRoundTrips()
    {
        foreach (var record in new[]
        {
            new WriteRecord(WriteType.Put, new Timestamp(9), false, [1]),
            new WriteRecord(WriteType.Rollback, new Timestamp(ulong.MaxValue), true, null),
            new WriteRecord(WriteType.Delete, new Timestamp(0), false, []),
            new WriteRecord(WriteType.Put, new Timestamp(7), false, null, OverlappedRollback: true),
            new WriteRecord(WriteType.Put, new Timestamp(7), true, [3], OverlappedRollback: true),
        })
        {
            Assert.True(WriteRecord.TryDecode(record.Encode(), out var decoded, out var error), error);
            Assert.NotNull(decoded);
            Assert.Equal(record.Type, decoded.Type);
            Assert.Equal(record.StartTs, decoded.StartTs);
            Assert.Equal(record.Protected, decoded.Protected);
            Assert.Equal(record.OverlappedRollback, decoded.OverlappedRollback);
            Assert.Equal(record.ShortValue, decoded.ShortValue);
        }
    }

    [Fact]
    public void TruncatedAndGarbageRecordsAreRefused()
    {
        var lockBytes = new MvccLock(LockType.Lock, [1], new Timestamp(1), 1, [2], [[3]]).Encode();
        for (int length = 0; length < lockBytes.Length; length++)
        {
            Assert.False(MvccLock.TryDecode(lockBytes.AsSpan(0, length), out var decoded, out var error));
            Assert.Null(decoded);
            Assert.NotEmpty(error);
        }

        var writeBytes = new WriteRecord(WriteType.Put, new Timestamp(1), false, [2]).Encode();
        for (int length = 0; length < writeBytes.Length; length++)
        {
            Assert.False(WriteRecord.TryDecode(writeBytes.AsSpan(0, length), out var decoded, out var error));
            Assert.Null(decoded);
            Assert.NotEmpty(error);
        }

        Assert.False(MvccLock.TryDecode([.. lockBytes, 0], out _, out var trailing));
        Assert.Contains("trailing", trailing, StringComparison.Ordinal);
        Assert.False(WriteRecord.TryDecode([2, .. writeBytes[1..]], out _, out var version));
        Assert.Contains("version", version, StringComparison.Ordinal);
        var badType = (byte[])writeBytes.Clone();
        badType[1] = 9;
        Assert.False(WriteRecord.TryDecode(badType, out _, out var typeError));
        Assert.Contains("type", typeError, StringComparison.Ordinal);
        var random = new Random(3);
        for (int i = 0; i < 1000; i++)
        {
            var garbage = new byte[random.Next(0, 40)];
            random.NextBytes(garbage);
            // Must not throw; whatever it answers, a refusal has a reason.
            if (!MvccLock.TryDecode(garbage, out _, out var e1))
            {
                Assert.NotEmpty(e1);
            }

            if (!WriteRecord.TryDecode(garbage, out _, out var e2))
            {
                Assert.NotEmpty(e2);
            }
        }
    }
}
