using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kv.Bench.Cluster;
using Kv.Bench.Harness;

namespace Kv.Bench.Txn;

/// <summary>The transaction suite's workloads: (a) put, (b) transfer, (c) snapshot read.</summary>
internal enum TxnWorkload
{
    Put,
    Transfer,
    SnapshotRead,
}

/// <summary>What one timed run measured: <see cref="RunResult"/>, the operations completed and the retries they took.</summary>
internal readonly record struct TxnRunResult(RunResult Run, long Operations, long Retries);

/// <summary>
/// The transaction suite's load, built like <see cref="LoadGenerator"/>: <c>concurrency</c> worker
/// tasks, closed loop, for a fixed time, on accounts drawn uniformly from the key space (two
/// distinct ones for a transfer or a snapshot read). Keys are 16 bytes (<c>acct-</c> and an
/// 11-digit index), values 256 bytes whose first 8 are the balance. An operation is timed from its
/// first attempt to its commit, so its retries are in its latency.
/// </summary>
internal sealed class TxnLoad(int keyCount)
{
    public const int ValueSize = 256;

    private readonly byte[][] _keys = Enumerable.Range(0, keyCount).Select(Key).ToArray();
    private readonly byte[] _value = MakeValue();

    public int KeyCount => _keys.Length;

    /// <summary>
    /// Writes every account once with the system's single-key transaction (concurrently). Not
    /// with a plain put: kv-node's raw keys are a keyspace apart from its transactional keys, so
    /// its transactions would not see them. Returns the elapsed seconds.
    /// </summary>
    public async Task<double> PreloadAsync(ITxnSystem system, int concurrency)
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

    public async Task<TxnRunResult> RunAsync(ITxnSystem system, TxnWorkload workload, int concurrency, TimeSpan duration, int seed)
    {
        if (_keys.Length < 2)
        {
            throw new InvalidOperationException("the transaction suite needs at least 2 keys (--keys)");
        }

        var latencies = new List<double>[concurrency];
        var errors = new long[concurrency];
        var retries = new long[concurrency];
        var firstError = (Exception?)null;
        var servers = system.Cluster.Servers;
        var serverCpu = servers.Select(s => s.CpuSeconds()).ToArray();
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
                    var a = random.Next(_keys.Length);
                    var b = random.Next(_keys.Length - 1);
                    b += b >= a ? 1 : 0;
                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        switch (workload)
                        {
                            case TxnWorkload.Put:
                                retries[worker] += await system.PutAsync(_keys[a], _value, CancellationToken.None);
                                break;
                            case TxnWorkload.Transfer:
                                retries[worker] += await system.TransferAsync(_keys[a], _keys[b], 1, CancellationToken.None);
                                break;
                            default:
                                var (r, la, lb) = await system.ReadPairAsync(_keys[a], _keys[b], CancellationToken.None);
                                retries[worker] += r;
                                if (la != ValueSize || lb != ValueSize)
                                {
                                    throw new InvalidOperationException(
                                        $"{system.Name}: snapshot read of preloaded keys {Encoding.ASCII.GetString(_keys[a])} and {Encoding.ASCII.GetString(_keys[b])} returned lengths {la} and {lb} (-1: absent), not {ValueSize}: the benchmark's reads are not reading what it wrote");
                                }

                                break;
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
        var serverCpuUsed = servers.Select((s, i) => s.CpuSeconds() - serverCpu[i]).ToArray();
        clientCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - clientCpu;

        var all = latencies.SelectMany(l => l).ToArray();
        var errorCount = errors.Sum();
        if (all.Length == 0)
        {
            throw new InvalidOperationException($"{system.Name}: no {workload} succeeded in {seconds:0.0} s ({errorCount} failed; first error: {firstError?.Message})");
        }

        if (errorCount > 0)
        {
            Console.Error.WriteLine($"{system.Name}: {errorCount} operations failed in this run; first error: {firstError?.Message}");
        }

        return new TxnRunResult(
            new RunResult(
                all.Length / seconds,
                Sample.Quantile(all, 0.50),
                Sample.Quantile(all, 0.99),
                serverCpuUsed.Sum() * 1e6 / all.Length,
                clientCpu * 1e6 / all.Length,
                errorCount,
                serverCpuUsed.Select(c => c * 1e6 / all.Length).ToArray()),
            all.Length,
            retries.Sum());
    }

    private static byte[] Key(int index) => Encoding.ASCII.GetBytes("acct-" + index.ToString("D11", CultureInfo.InvariantCulture));

    private static byte[] MakeValue()
    {
        var value = new byte[ValueSize];
        new Random(42).NextBytes(value);
        return Account.WithBalance(value, 1_000_000);
    }
}
