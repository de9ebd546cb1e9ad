using System.Globalization;
using System.Text;
using Kv.Node.Storage;

namespace Kv.StorageCrashWriter;

/// <summary>
/// The deterministic workload shared by the writer and the test that checks its results: write
/// number i is either one put or an atomic batch across column families, and its keys and values
/// are a pure function of i, so a checker can tell a right value from a wrong one.
/// </summary>
public static class CrashWorkload
{
    public static bool IsBatch(long i) => i % 3 == 0;

    public static byte[] Key(long i) => Encoding.ASCII.GetBytes($"k{i:D8}");

    /// <summary>Keys the batch of write i puts into the lock and write column families.</summary>
    public static byte[] BatchKey(long i, int part) => Encoding.ASCII.GetBytes($"b{i:D8}/{part}");

    /// <summary>16 to 4,015 bytes that start with the write's number and vary with it.</summary>
    public static byte[] Value(long i)
    {
        var value = new byte[16 + (int)(i * 7919 % 4000)];
        Encoding.ASCII.GetBytes(i.ToString("D16", CultureInfo.InvariantCulture)).CopyTo(value, 0);
        for (var j = 16; j < value.Length; j++)
        {
            value[j] = (byte)(i + (j * 31));
        }

        return value;
    }

    /// <summary>Performs write i with sync; returns when RocksDB has fsynced it.</summary>
    public static void Write(Engine engine, WriteBatch batch, long i)
    {
        if (!IsBatch(i))
        {
            engine.Put(ColumnFamily.Default, Key(i), Value(i), sync: true);
            return;
        }

        batch.Clear();
        batch.Put(ColumnFamily.Default, Key(i), Value(i));
        batch.Put(ColumnFamily.Lock, BatchKey(i, 0), Value(i));
        batch.Put(ColumnFamily.Write, BatchKey(i, 1), Value(i));
        batch.Delete(ColumnFamily.Default, Key(i - 1)); // a batch may also delete: i-1 is gone once i is in
        engine.Write(batch, sync: true);
    }
}
