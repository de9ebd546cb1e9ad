using Kv.Node.Ranges.Snapshots;
using Kv.Node.Storage;
using Kv.Proto.V1;

namespace Kv.Node.Ranges;

/// <summary>
/// How many bytes a range's replica holds on this store, approximately: every span a snapshot of
/// the range would copy (<see cref="KeySpan.ForRange"/>: raw data, and the transactional data,
/// lock and write column families, where short transactional values live), counting both SST
/// files and memtables. What range heartbeats report (`kvctl range show`) and size splits could
/// use. Counting files only made a freshly written range read 0 B until RocksDB flushed.
/// </summary>
internal static class RangeSize
{
    public static ulong Approximate(Engine engine, RangeDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(descriptor);
        ulong total = 0;
        foreach (var span in KeySpan.ForRange(descriptor))
        {
            total += engine.ApproximateSize(span.ColumnFamily, span.Lower.Span, span.Upper.Span, SizeSources.All);
        }

        return total;
    }
}
