using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kv.Bench.Harness;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Cluster;

namespace Kv.Bench.Cluster;

/// <summary>
/// kv-bench split: the latency of a manual range split as an operator makes one (a Split
/// operation through KvAdminClient.RunAsync: submit to the placement leader, which plans and
/// records it; its executor drives the step on the range leader (id allocation, the split command
/// through Raft, applied and durable there) and records it done; the watch sees it succeed) on three
/// kv-node processes, idle and under a steady put load. Splits are sequential, each at a fresh key
/// inside the last (growing) range, so every split is of a range that exists and has a leader.
/// Finding the range that holds the key is done before the clock starts.
/// </summary>
internal static class SplitBench
{
    public static int Run(string[] args)
    {
        var splits = 50;
        var writers = 8;
        var kvNode = Path.Combine(AppContext.BaseDirectory, "kv-node.dll");
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--splits":
                    splits = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--writers":
                    writers = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--kv-node":
                    kvNode = args[i + 1];
                    break;
                default:
                    Console.Error.WriteLine($"kv-bench split: unknown option {args[i]}; usage: kv-bench split [--splits N] [--writers N] [--kv-node PATH]");
                    return 2;
            }
        }

        return RunAsync(splits, writers, kvNode).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(int splits, int writers, string kvNode)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"kv-bench-split-{Environment.ProcessId}");
        var loadAtStart = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        await using (var cluster = await KvNodeCluster.StartAsync(kvNode, directory, TimeSpan.FromSeconds(120)))
        {
            await using var client = KvClient.Connect(cluster.Endpoints);
            await using var admin = KvAdminClient.Connect(cluster.Endpoints, who: "kv-bench");
            var idle = await SplitManyAsync(client, admin, "a", splits);
            Console.Error.WriteLine($"idle: {Summary(idle)}");

            using var stop = new CancellationTokenSource();
            var puts = 0L;
            var load = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
            {
                await using var writer = KvClient.Connect(cluster.Endpoints);
                var value = new byte[100];
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    // Keys spread over the ranges being split ("b..." sorts between the split points).
                    await writer.PutAsync(Encoding.UTF8.GetBytes($"b{n % 1000:D4}-{w}"), value);
                    Interlocked.Increment(ref puts);
                }
            })).ToList();
            var started = Stopwatch.GetTimestamp();
            var loaded = await SplitManyAsync(client, admin, "b", splits);
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            await stop.CancelAsync();
            await Task.WhenAll(load);
            Console.Error.WriteLine($"under load ({Interlocked.Read(ref puts) / seconds:N0} puts/s): {Summary(loaded)}");

            var loadAtEnd = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            Console.WriteLine($"## Split latency (3 kv-node processes on 127.0.0.1, {splits} sequential splits per row; load average {loadAtStart} at start, {loadAtEnd} at end)");
            Console.WriteLine();
            Console.WriteLine("| condition | splits | p50 ms | p99 ms | max ms |");
            Console.WriteLine("|---|--:|--:|--:|--:|");
            Console.WriteLine($"| idle cluster | {idle.Count} | {Row(idle)} |");
            Console.WriteLine($"| {writers} writers putting 100 B values ({Interlocked.Read(ref puts) / seconds:N0} puts/s) into the ranges being split | {loaded.Count} | {Row(loaded)} |");
        }

        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }

        return 0;
    }

    /// <summary>Splits at prefix0001, prefix0002, ...: each a new boundary inside the range holding it.</summary>
    private static async Task<List<double>> SplitManyAsync(KvClient client, KvAdminClient admin, string prefix, int count)
    {
        var ms = new List<double>(count);
        for (var i = 1; i <= count; i++)
        {
            var key = Encoding.UTF8.GetBytes($"{prefix}{i * 1000 / (count + 1):D4}");

            // The keys ascend, so the range holding this one is the last range.
            var ranges = await client.ListRangesAsync();
            var range = new RangeId(ranges[^1].Range.RangeId);
            var start = Stopwatch.GetTimestamp();
            await admin.RunAsync(OperationRequest.Split(range, key));
            ms.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        return ms;
    }

    private static string Row(List<double> ms) =>
        $"{Sample.Format(Sample.Quantile(ms, 0.5))} | {Sample.Format(Sample.Quantile(ms, 0.99))} | {Sample.Format(ms.Max())}";

    private static string Summary(List<double> ms) => $"p50 {Sample.Quantile(ms, 0.5):0.0} ms, p99 {Sample.Quantile(ms, 0.99):0.0} ms";
}
