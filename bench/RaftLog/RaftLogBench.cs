using System.Diagnostics;
using System.Globalization;
using Kv.Bench.Harness;
using Kv.Node.Raft;
using Kv.Node.Ranges.RaftLog;

namespace Kv.Bench.RaftLog;

/// <summary>
/// Persistence cost of the Raft log on the real Engine (EngineRaftStorage over RocksDB, sync on):
/// each Ready of `batch` entries of 128 B plus a hard state is staged into one WriteBatch and
/// written with sync, then confirmed, as a host does before sending. Each run lasts about
/// `seconds`; entries persisted per second is the figure, per entry and per Ready costs follow.
/// Usage: kv-bench raftlog [seconds-per-run] [data-directory]
/// </summary>
internal static class RaftLogBench
{
    private const int PayloadBytes = 128;
    private const int Runs = 5;

    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 2.0;
        var root = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "kv-bench-raftlog-" + Guid.NewGuid().ToString("N"));
        Console.WriteLine($"## Raft log persistence: EngineRaftStorage on the Engine, sync on, {PayloadBytes} B entries, {seconds:0.#} s per run");
        Console.WriteLine();
        Console.WriteLine($"| entries per Ready | entries/s (median of {Runs}) | min | max | µs per entry | Readies (syncs)/s |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
        try
        {
            foreach (var batch in new[] { 1, 16, 256 })
            {
                using var engine = Kv.Node.Storage.Engine.Open(Path.Combine(root, $"b{batch}"));
                var log = new Log(engine, batch);
                var runs = Runner.OpsPerSecond(() => log.Drive(TimeSpan.FromSeconds(seconds)), runs: Runs);
                var median = Sample.Median(runs);
                Console.WriteLine($"| {batch} | {Sample.Format(median)} | {Sample.Format(runs.Min())} | {Sample.Format(runs.Max())} | {Sample.Format(1e6 / median)} | {Sample.Format(median / batch)} |");
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        return 0;
    }

    private sealed class Log(Kv.Node.Storage.Engine engine, int batch)
    {
        private readonly EngineRaftStorage storage = new(engine, groupId: 1);
        private readonly byte[] payload = Enumerable.Range(0, PayloadBytes).Select(i => (byte)(i * 31)).ToArray();
        private readonly Entry[] entries = new Entry[batch];

        /// <summary>Persists Readies until the duration has passed; returns the entries persisted.</summary>
        public long Drive(TimeSpan duration)
        {
            long persisted = 0;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < duration)
            {
                var first = storage.LastIndex() + 1;
                for (var i = 0; i < entries.Length; i++)
                {
                    entries[i] = new Entry(1, first + (ulong)i, EntryType.Normal, payload);
                }

                using var wb = engine.NewWriteBatch();
                storage.StageEntries(wb, entries);
                storage.StageHardState(wb, new HardState(1, 1, first + (ulong)entries.Length - 1));
                engine.Write(wb, sync: true);
                storage.OnPersisted();
                persisted += entries.Length;
            }

            return persisted;
        }
    }
}
