using System.Runtime.InteropServices;
using Kv.Node.Storage;
using Xunit.Abstractions;
using Kv.Node.Tests.TestSupport;
using static Kv.Node.Tests.Storage.Bytes;

namespace Kv.Node.Tests.Storage;

/// <summary>Runs alone: it measures the whole process's descriptors and native heap.</summary>
[CollectionDefinition(nameof(ProcessWideMeasurements), DisableParallelization = true)]
public sealed class ProcessWideMeasurements
{
}

/// <summary>
/// Opening, using and disposing engines thousands of times must leave file descriptors and
/// memory flat: every native object has one owner that frees it.
/// </summary>
[Collection(nameof(ProcessWideMeasurements))]
public sealed partial class EngineLeakTests
{
    private readonly ITestOutputHelper _output;

    public EngineLeakTests(ITestOutputHelper output) => _output = output;

    // glibc's heap statistics: uordblks is the number of bytes malloc has handed out and not got back.
    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [LibraryImport("libc.so.6", EntryPoint = "mallinfo2")]
    private static partial MallInfo2 MallInfo();

    private static long NativeHeapBytes()
    {
        var info = MallInfo();
        return (long)info.Uordblks + (long)info.Hblkhd;
    }

    private const int Warmup = 100;
    private const int Rounds = 1000;
    private const int PerCycle = 20;

    private static int OpenFileDescriptors() => Directory.GetFiles("/proc/self/fd").Length;

    private static long ResidentBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    // One cycle: open, then many of each short-lived native object, so that even a small leak
    // per object adds up to megabytes over the run; then dispose everything.
    private static void UseOnce(string path, int round)
    {
        using var engine = Engine.Open(path, new EngineOptions { BlockCacheBytes = 1 << 20 });
        engine.Put(ColumnFamily.Default, Of($"k{round % 10}"), Of("value"), sync: round % 50 == 0);
        Span<byte> buffer = stackalloc byte[16];
        for (var i = 0; i < PerCycle; i++)
        {
            using (var batch = engine.NewWriteBatch())
            {
                batch.Put(ColumnFamily.Lock, Of("l"), Of("x"));
                engine.Write(batch);
            }

            Assert.Equal(5, engine.Get(ColumnFamily.Default, Of($"k{round % 10}"), buffer));
            using var snapshot = engine.GetSnapshot();
            Assert.Equal(5, engine.Get(ColumnFamily.Default, Of($"k{round % 10}"), buffer, snapshot));
            using var it = engine.NewIterator(ColumnFamily.Default, Of("k"), Of("l"), snapshot);
            Assert.True(it.SeekToFirst());
        }

        if (round % 10 == 0)
        {
            var sst = Path.Combine(path, "leak-test.sst");
            using (var writer = engine.NewSstFileWriter(ColumnFamily.Meta, sst))
            {
                writer.Put(Of("m"), Of("v"));
                writer.Finish();
            }

            File.Delete(sst);
        }
    }

    [Fact]
    public void Thousands_of_open_use_dispose_cycles_leave_descriptors_and_memory_flat()
    {
        using var dir = new TempDirectory();
        for (var i = 0; i < Warmup; i++)
        {
            UseOnce(dir.Path, i);
        }

        var fds = OpenFileDescriptors();
        var rss = ResidentBytes();
        var heap = NativeHeapBytes();
        for (var i = 0; i < Rounds; i++)
        {
            UseOnce(dir.Path, i);
            if (i % 500 == 499)
            {
                _output.WriteLine($"round {i + 1}: native heap {NativeHeapBytes() >> 10} KiB");
            }
        }

        var fdGrowth = OpenFileDescriptors() - fds;
        var rssGrowth = ResidentBytes() - rss;
        var heapGrowth = NativeHeapBytes() - heap;
        _output.WriteLine($"over {Rounds} rounds: fds {fdGrowth:+#;-#;0}, rss {rssGrowth >> 10:+#;-#;0} KiB, native heap {heapGrowth >> 10:+#;-#;0} KiB");
        // A leaked DB costs at least its LOCK and WAL descriptors and megabytes of arenas; a
        // leaked iterator or snapshot pins a DB. Allow noise from the runtime and other tests.
        Assert.True(fdGrowth <= 8, $"file descriptors grew by {fdGrowth} over {Rounds} rounds");
        Assert.True(rssGrowth < 64L << 20, $"resident memory grew by {rssGrowth >> 20} MiB over {Rounds} rounds");
        // Measured noise is under 1 MiB either way; a leak of 100 bytes per object is 8 MiB here.
        Assert.True(heapGrowth < 2L << 20, $"the native heap grew by {heapGrowth >> 10} KiB over {Rounds} rounds");
    }
}
