using System.Globalization;
using System.Runtime.InteropServices;
using Kv.Bench.Cluster;
using Kv.Bench.Harness;

namespace Kv.Bench.Txn;

/// <summary>
/// kv-bench txn [--duration S] [--runs N] [--clients 1,64] [--keys N] [--systems kv-node,etcd]
/// [--etcd PATH] [--kv-node PATH]: the transaction suite (issue 7). The same two 3-member clusters
/// as the cluster suite, both up for the whole suite; three workloads from the same closed-loop
/// load generator at each client count: (a) a single-key transactional put, (b) a 2-key transfer
/// (read two accounts, write both, retried on conflict), (c) a read-only snapshot read of 2 keys.
/// Per workload and client count: one warm-up run per system, then the timed runs, the systems
/// taking turns run by run (the one going first alternating), as in <see cref="ClusterBench"/>.
/// Prints medians, and the retries per workload, as a Markdown table for docs/PERFORMANCE.md.
/// </summary>
internal static class TxnBench
{
    private static readonly (TxnWorkload Workload, string Label)[] Workloads =
    [
        (TxnWorkload.Put, "txn put"),
        (TxnWorkload.Transfer, "transfer"),
        (TxnWorkload.SnapshotRead, "snapshot read"),
    ];

    public static int Run(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"kv-bench txn: {e.Message}");
            Console.Error.WriteLine("usage: kv-bench txn [--duration SECONDS] [--runs N] [--clients 1,64] [--keys N] [--systems kv-node,etcd] [--etcd PATH] [--kv-node PATH-TO-kv-node.dll]");
            return 2;
        }

        return RunAsync(options).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(Options options)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"kv-bench-txn-{Environment.ProcessId}");
        Directory.CreateDirectory(directory);
        var clusters = new List<IBenchSystem>();
        var signals = new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP }
            .Select(signal => PosixSignalRegistration.Create(signal, _ => ClusterBench.StopAll(clusters, directory)))
            .ToArray();
        try
        {
            var loadAtStart = ClusterBench.LoadAverage();
            var etcdVersion = "";
            var systems = new List<ITxnSystem>();
            foreach (var name in options.Systems)
            {
                Console.Error.WriteLine($"starting {name} x3 under {directory}");
                IBenchSystem cluster = name switch
                {
                    "etcd" => await EtcdCluster.StartAsync(options.EtcdBinary, Path.Combine(directory, "etcd"), TimeSpan.FromSeconds(60)),
                    _ => await KvNodeCluster.StartAsync(options.KvNode, Path.Combine(directory, "kv-node"), TimeSpan.FromSeconds(120)),
                };
                lock (clusters)
                {
                    clusters.Add(cluster);
                }

                if (cluster is EtcdCluster etcd)
                {
                    etcdVersion = etcd.Version;
                }

                systems.Add(TxnSystems.For(cluster));
            }

            var load = new TxnLoad(options.Keys);
            foreach (var system in systems)
            {
                var seconds = await load.PreloadAsync(system, options.Clients.Max());
                Console.Error.WriteLine($"{system.Name}: preloaded {load.KeyCount:N0} accounts with {options.Clients.Max()} clients in {seconds:0.0} s ({load.KeyCount / seconds:N0} puts/s)");
            }

            var results = new Dictionary<(string System, TxnWorkload Workload, int Clients), List<TxnRunResult>>();
            foreach (var (workload, label) in Workloads)
            {
                foreach (var clients in options.Clients)
                {
                    for (var run = -1; run < options.Runs; run++)
                    {
                        // run -1 is the warm-up of this workload and client count, not recorded.
                        for (var k = 0; k < systems.Count; k++)
                        {
                            var system = systems[(k + Math.Max(run, 0)) % systems.Count];
                            var t = await load.RunAsync(system, workload, clients, options.Duration, seed: (run * 1009) + clients);
                            var r = t.Run;
                            Console.Error.WriteLine($"{system.Name} {label} x{clients} run {(run < 0 ? "warm-up" : (run + 1).ToString(CultureInfo.InvariantCulture))}: {r.OpsPerSecond:N0} ops/s, p50 {r.P50Ms:0.00} ms, p99 {r.P99Ms:0.00} ms, server CPU {r.ServerCpuUsPerOp:0} µs/op, client CPU {r.ClientCpuUsPerOp:0} µs/op, {t.Retries} retries");
                            if (run >= 0)
                            {
                                var key = (system.Name, workload, clients);
                                if (!results.TryGetValue(key, out var list))
                                {
                                    results[key] = list = [];
                                }

                                list.Add(t);
                            }
                        }
                    }
                }
            }

            Report(options, systems, results, etcdVersion, loadAtStart, ClusterBench.LoadAverage());
            return 0;
        }
        finally
        {
            foreach (var registration in signals)
            {
                registration.Dispose();
            }

            ClusterBench.StopAll(clusters, directory);
        }
    }

    private static void Report(Options options, List<ITxnSystem> systems, Dictionary<(string System, TxnWorkload Workload, int Clients), List<TxnRunResult>> results, string etcdVersion, string loadAtStart, string loadAtEnd)
    {
        var ours = systems.FirstOrDefault(s => s.Cluster is not EtcdCluster)?.Name;
        var etcd = systems.FirstOrDefault(s => s.Cluster is EtcdCluster)?.Name;
        Console.WriteLine($"## Transactions: kv-node vs etcd {etcdVersion} Txn (3 members each on 127.0.0.1; {options.Runs} runs of {options.Duration.TotalSeconds:0.#} s per workload, medians; {options.Keys:N0} accounts of 16 B keys, values of {TxnLoad.ValueSize} B; load average {loadAtStart} at start, {loadAtEnd} at end)");
        Console.WriteLine();
        Console.WriteLine("| workload | kv-node | etcd | ours / etcd |");
        Console.WriteLine("| --- | --: | --: | --: |");
        foreach (var (workload, label) in Workloads)
        {
            foreach (var clients in options.Clients)
            {
                var name = $"{label}, {clients} client{(clients == 1 ? "" : "s")}";
                Row($"{name}: ops/s", r => r.Run.OpsPerSecond, higherIsBetter: true);
                Row($"{name}: p50 latency (ms)", r => r.Run.P50Ms, higherIsBetter: false);
                Row($"{name}: p99 latency (ms)", r => r.Run.P99Ms, higherIsBetter: false);
                Row($"{name}: server CPU per op (µs, 3 processes)", r => r.Run.ServerCpuUsPerOp, higherIsBetter: false);
                Row($"{name}: client CPU per op (µs)", r => r.Run.ClientCpuUsPerOp, higherIsBetter: false);
                Row($"{name}: retries per 1,000 ops", r => r.Retries * 1000.0 / r.Operations, higherIsBetter: false);

                void Row(string rowName, Func<TxnRunResult, double> metric, bool higherIsBetter)
                {
                    double? a = ours is null ? null : Sample.Median(results[(ours, workload, clients)].Select(metric).ToArray());
                    double? b = etcd is null ? null : Sample.Median(results[(etcd, workload, clients)].Select(metric).ToArray());
                    var ratio = a is { } x && b is { } y && x > 0 && y > 0 ? (higherIsBetter ? x / y : y / x).ToString("P0", CultureInfo.InvariantCulture) : "-";
                    Console.WriteLine($"| {rowName} | {(a is { } av ? Sample.Format(av) : "-")} | {(b is { } bv ? Sample.Format(bv) : "-")} | {ratio} |");
                }
            }
        }

        Console.WriteLine();
        var retries = results.Select(r => $"{r.Key.System} {Workloads.First(w => w.Workload == r.Key.Workload).Label} x{r.Key.Clients}: {r.Value.Sum(x => x.Retries)}").ToArray();
        Console.WriteLine($"Retries in the timed runs (all runs together): {string.Join("; ", retries)}.");
        var errors = results.Where(r => r.Value.Sum(x => x.Run.Errors) > 0).Select(r => $"{r.Key.System} {r.Key.Workload} x{r.Key.Clients}: {r.Value.Sum(x => x.Run.Errors)}").ToArray();
        Console.WriteLine();
        Console.WriteLine(errors.Length == 0 ? "No operation failed in the timed runs." : $"Failed operations (not timed, not counted): {string.Join("; ", errors)}.");
    }

    private sealed record Options(TimeSpan Duration, int Runs, int[] Clients, int Keys, string[] Systems, string EtcdBinary, string KvNode)
    {
        public static Options Parse(string[] args)
        {
            var duration = 3.0;
            var runs = 3;
            int[] clients = [1, 64];
            var keys = 10_000;
            string[]? systems = null;
            var etcd = "etcd";
            var kvNode = Path.Combine(AppContext.BaseDirectory, "kv-node.dll");
            for (var i = 0; i < args.Length; i++)
            {
                var value = i + 1 < args.Length ? args[i + 1] : throw new FormatException($"option {args[i]} needs a value");
                switch (args[i])
                {
                    case "--duration":
                        duration = Positive(args[i], value);
                        break;
                    case "--runs":
                        runs = (int)Positive(args[i], value);
                        break;
                    case "--clients":
                        clients = value.Split(',').Select(c => (int)Positive(args[i], c)).Distinct().ToArray();
                        break;
                    case "--keys":
                        keys = (int)Positive(args[i], value);
                        if (keys < 2)
                        {
                            throw new FormatException($"--keys takes at least 2 (a transfer needs two distinct accounts), not '{value}'");
                        }

                        break;
                    case "--systems":
                        systems = value.Split(',');
                        if (systems.Length == 0 || systems.Any(s => s is not ("kv-node" or "etcd")) || systems.Distinct().Count() != systems.Length)
                        {
                            throw new FormatException($"--systems takes kv-node, etcd or both (comma-separated), not '{value}'");
                        }

                        break;
                    case "--etcd":
                        etcd = value;
                        break;
                    case "--kv-node":
                        kvNode = value;
                        break;
                    default:
                        throw new FormatException($"unknown option '{args[i]}'");
                }

                i++;
            }

            systems ??= ["kv-node", "etcd"];

            return new Options(TimeSpan.FromSeconds(duration), runs, clients, keys, systems, etcd, kvNode);
        }

        private static double Positive(string name, string value) =>
            double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 && v < int.MaxValue
                ? v
                : throw new FormatException($"{name} takes a positive number, not '{value}'");
    }
}
