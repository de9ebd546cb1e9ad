using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kv.Bench.Harness;

namespace Kv.Bench.Cluster;

/// <summary>
/// What one timed run measured on one system: completed operations per second, latency quantiles,
/// CPU time per operation of the server processes together and of the whole kv-bench process,
/// failed operations, and the server CPU per operation of each server process (in the order of
/// <see cref="IBenchSystem.Servers"/>), which shows the leader's share.
/// </summary>
internal readonly record struct RunResult(double OpsPerSecond, double P50Ms, double P99Ms, double ServerCpuUsPerOp, double ClientCpuUsPerOp, long Errors, double[] ServerCpuUsPerOpEach);

/// <summary>
/// The load: <c>concurrency</c> worker tasks, each issuing one operation at a time (closed loop) on
/// keys drawn uniformly from the key space, for a fixed time. Keys are 16 bytes (<c>bench-</c> and
/// a 10-digit index), values 256 bytes. The same generator drives both systems.
/// </summary>
internal sealed class LoadGenerator(int keyCount)
{
    public const int ValueSize = 256;

    private readonly byte[][] _keys = Enumerable.Range(0, keyCount).Select(Key).ToArray();
    private readonly byte[] _value = MakeValue();

    public int KeyCount => _keys.Length;

    /// <summary>
    /// Writes every key once (concurrently), so gets find their key. Doubles as the warm-up of the
    /// put path (connections, JIT, leader caches). Returns the elapsed seconds.
    /// </summary>
    public async Task<double> PreloadAsync(IBenchSystem system, int concurrency)
    {
        var next = -1;
        var sw = Stopwatch.StartNew();
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < _keys.Length)
                {
                    await system.PutAsync(_keys[i], _value, CancellationToken.None);
                }
            });
        }

        await Task.WhenAll(workers);
        return sw.Elapsed.TotalSeconds;
    }

    public async Task<RunResult> RunAsync(IBenchSystem system, bool put, int concurrency, TimeSpan duration, int seed)
    {
        var latencies = new List<double>[concurrency];
        var errors = new long[concurrency];
        var firstError = (Exception?)null;
        var serverCpu = system.Servers.Select(s => s.CpuSeconds()).ToArray();
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        var start = Stopwatch.GetTimestamp();
        var stopAt = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var worker = w;
            var list = latencies[w] = new List<double>(1 << 16);
            workers[w] = Task.Run(async () =>
            {
                var random = new Random(HashCode.Combine(seed, worker));
                while (Stopwatch.GetTimestamp() < stopAt)
                {
                    var key = _keys[random.Next(_keys.Length)];
                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        if (put)
                        {
                            await system.PutAsync(key, _value, CancellationToken.None);
                        }
                        else
                        {
                            var length = await system.GetAsync(key, CancellationToken.None);
                            if (length != ValueSize)
                            {
                                throw new InvalidOperationException(
                                    $"{system.Name}: get of preloaded key {Encoding.ASCII.GetString(key)} returned {(length < 0 ? "no value" : $"{length} bytes")}, not {ValueSize} bytes: the benchmark's reads are not reading what it wrote");
                            }
                        }
                    }
                    catch (Exception e) when (e is not InvalidOperationException)
                    {
                        // A failed operation is counted, reported and not timed; the run goes on.
                        errors[worker]++;
                        Interlocked.CompareExchange(ref firstError, e, null);
                        continue;
                    }

                    list.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
            });
        }

        await Task.WhenAll(workers);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var serverCpuUsed = system.Servers.Select((s, i) => s.CpuSeconds() - serverCpu[i]).ToArray();
        clientCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - clientCpu;

        var all = latencies.SelectMany(l => l).ToArray();
        var errorCount = errors.Sum();
        if (all.Length == 0)
        {
            throw new InvalidOperationException($"{system.Name}: no operation succeeded in {seconds:0.0} s ({errorCount} failed; first error: {firstError?.Message})");
        }

        if (errorCount > 0)
        {
            Console.Error.WriteLine($"{system.Name}: {errorCount} operations failed in this run; first error: {firstError?.Message}");
        }

        return new RunResult(
            all.Length / seconds,
            Sample.Quantile(all, 0.50),
            Sample.Quantile(all, 0.99),
            serverCpuUsed.Sum() * 1e6 / all.Length,
            clientCpu * 1e6 / all.Length,
            errorCount,
            serverCpuUsed.Select(c => c * 1e6 / all.Length).ToArray());
    }

    private static byte[] Key(int index) => Encoding.ASCII.GetBytes("bench-" + index.ToString("D10", CultureInfo.InvariantCulture));

    private static byte[] MakeValue()
    {
        var value = new byte[ValueSize];
        new Random(42).NextBytes(value);
        return value;
    }
}
