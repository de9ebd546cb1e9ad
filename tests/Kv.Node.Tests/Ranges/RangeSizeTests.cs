using System.Text;
using Google.Protobuf;
using Kv.Client;
using Kv.Node.Mvcc;
using Kv.Node.Ranges;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Ranges;

/// <summary>
/// A range's size counts its raw and transactional data (values, locks, write records with short
/// values) still in memtables: what range heartbeats report, so `kvctl range show` is not 0 B
/// after writes and before a flush.
/// </summary>
public sealed class RangeSizeTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Engine _engine;

    public RangeSizeTests() => _engine = Engine.Open(_dir.Sub("db"));

    public void Dispose()
    {
        _engine.Dispose();
        _dir.Dispose();
    }

    private static RangeDescriptor Range(string start, string end) => new()
    {
        RangeId = 7,
        StartKey = ByteString.CopyFromUtf8(start),
        EndKey = ByteString.CopyFromUtf8(end),
        Epoch = new RangeEpoch { ConfVer = 1, Version = 1 },
    };

    private static byte[] Key(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Unflushed_raw_data_counts()
    {
        for (var i = 0; i < 100; i++)
        {
            _engine.Put(ColumnFamily.Default, Keys.Data(Key($"m{i:D3}")), new byte[1000]);
        }

        Assert.InRange(RangeSize.Approximate(_engine, Range("m", "n")), 50_000UL, 1_000_000UL);
        Assert.Equal(0UL, RangeSize.Approximate(_engine, Range("a", "b"))); // control: the data is not in [a, b)
    }

    [Fact]
    public void Unflushed_transactional_write_records_with_short_values_count()
    {
        // Short values live in the write column family's records (TxnKeys.MaxShortValue), not in default.
        for (var i = 0; i < 300; i++)
        {
            _engine.Put(ColumnFamily.Write, TxnKeys.WriteKey(Key($"m{i:D3}"), new Timestamp((ulong)(1000 + i))), new byte[200]);
        }

        var size = RangeSize.Approximate(_engine, Range("m", ""));
        Assert.InRange(size, 30_000UL, 1_000_000UL);

        // Negative control: the old measure (default column family's raw span, SST files only) saw nothing.
        Assert.Equal(0UL, _engine.ApproximateSize(ColumnFamily.Default, Keys.Data(Key("m")), Keys.DataEnd));
        Assert.Equal(0UL, RangeSize.Approximate(_engine, Range("a", "m")));
    }
}
