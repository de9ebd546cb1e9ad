using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Kv.Bench.Harness;

namespace Kv.Bench.Cluster;

/// <summary>
/// kv-bench cluster [--duration S] [--runs N] [--clients 1,64] [--keys N] [--systems kv-node,etcd]
/// [--etcd PATH] [--kv-node PATH]: a 3-node kv-node cluster and a 3-member etcd cluster, each
/// member its own process on 127.0.0.1, both running for the whole suite; puts and linearizable
/// gets from the same closed-loop load generator at each client count. Per workload and client
/// count: one warm-up run per system, then the timed runs, the two systems taking turns run by
/// run (the one going first alternating) so machine noise hits both alike. Prints medians as a
/// Markdown table for docs/PERFORMANCE.md, with the server and client CPU time per operation.
/// </summary>
internal static class ClusterBench
{
    public static int Run(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"kv-bench cluster: {e.Message}");
            Console.Error.WriteLine("usage: kv-bench cluster [--duration SECONDS] [--runs N] [--clients 1,64] [--keys N] [--systems kv-node,etcd] [--etcd PATH] [--kv-node PATH-TO-kv-node.dll]");
            return 2;
        }

        return RunAsync(options).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(Options options)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"kv-bench-cluster-{Environment.ProcessId}");
        Directory.CreateDirectory(directory);
        var systems = new List<IBenchSystem>();

        // Ctrl-C, kill or a closed terminal must not leave six servers running: stop them, then
        // let the process end as the signal asks.
        var signals = new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP }
            .Select(signal => PosixSignalRegistration.Create(signal, _ => StopAll(systems, directory)))
            .ToArray();
        try
        {
            var loadAtStart = LoadAverage();
            string etcdVersion = "";
            foreach (var name in options.Systems)
            {
                Console.Error.WriteLine($"starting {name} x3 under {directory}");
                IBenchSystem system = name switch
                {
                    "etcd" => await EtcdCluster.StartAsync(options.EtcdBinary, Path.Combine(directory, "etcd"), TimeSpan.FromSeconds(60)),
                    _ => await KvNodeCluster.StartAsync(options.KvNode, Path.Combine(directory, "kv-node"), TimeSpan.FromSeconds(120)),
                };
                lock (systems)
                {
                    systems.Add(system);
                }

                if (system is EtcdCluster etcd)
                {
                    etcdVersion = etcd.Version;
                }
            }

            var load = new LoadGenerator(options.Keys);
            foreach (var system in systems)
            {
                var seconds = await load.PreloadAsync(system, options.Clients.Max());
                Console.Error.WriteLine($"{system.Name}: preloaded {load.KeyCount:N0} keys with {options.Clients.Max()} clients in {seconds:0.0} s ({load.KeyCount / seconds:N0} puts/s)");
            }

            // The floor under the per-operation CPU figures: what each cluster's servers burn with
            // no load at all (timers, heartbeats, runtime), measured with both clusters up and idle.
            var idle = new Dictionary<string, double>();
            foreach (var system in systems)
            {
                idle[system.Name] = await IdleCpuAsync(system, TimeSpan.FromSeconds(3));
                Console.Error.WriteLine($"{system.Name}: idle servers use {idle[system.Name]:P0} of a core (3 processes together)");
            }

            var results = new Dictionary<(string System, string Workload, int Clients), List<RunResult>>();
            foreach (var workload in new[] { "put", "get" })
            {
                foreach (var clients in options.Clients)
                {
                    for (var run = -1; run < options.Runs; run++)
                    {
                        // run -1 is the warm-up of this workload and client count, not recorded.
                        for (var k = 0; k < systems.Count; k++)
                        {
                            var system = systems[(k + Math.Max(run, 0)) % systems.Count];
                            var r = await load.RunAsync(system, workload == "put", clients, options.Duration, seed: (run * 1009) + clients);
                            Console.Error.WriteLine($"{system.Name} {workload} x{clients} run {(run < 0 ? "warm-up" : (run + 1).ToString(CultureInfo.InvariantCulture))}: {r.OpsPerSecond:N0} ops/s, p50 {r.P50Ms:0.00} ms, p99 {r.P99Ms:0.00} ms, server CPU {r.ServerCpuUsPerOp:0} µs/op ({string.Join(" + ", r.ServerCpuUsPerOpEach.Select(c => c.ToString("0", CultureInfo.InvariantCulture)))}), client CPU {r.ClientCpuUsPerOp:0} µs/op");
                            if (run >= 0)
                            {
                                var key = (system.Name, workload, clients);
                                if (!results.TryGetValue(key, out var list))
                                {
                                    results[key] = list = [];
                                }

                                list.Add(r);
                            }
                        }
                    }
                }
            }

            Report(options, systems, results, idle, etcdVersion, loadAtStart, LoadAverage());
            return 0;
        }
        finally
        {
            foreach (var registration in signals)
            {
                registration.Dispose();
            }

            StopAll(systems, directory);
        }
    }

    private static async Task<double> IdleCpuAsync(IBenchSystem system, TimeSpan duration)
    {
        var before = system.Servers.Sum(s => s.CpuSeconds());
        var start = Stopwatch.GetTimestamp();
        await Task.Delay(duration);
        return (system.Servers.Sum(s => s.CpuSeconds()) - before) / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static void Report(Options options, List<IBenchSystem> systems, Dictionary<(string System, string Workload, int Clients), List<RunResult>> results, Dictionary<string, double> idle, string etcdVersion, string loadAtStart, string loadAtEnd)
    {
        var ours = systems.FirstOrDefault(s => s is not EtcdCluster)?.Name;
        var etcd = systems.FirstOrDefault(s => s is EtcdCluster)?.Name;
        Console.WriteLine($"## Cluster: kv-node vs etcd {etcdVersion} (3 members each on 127.0.0.1; {options.Runs} runs of {options.Duration.TotalSeconds:0.#} s per workload, medians; {options.Keys:N0} keys of 16 B, values of {LoadGenerator.ValueSize} B; load average {loadAtStart} at start, {loadAtEnd} at end)");
        Console.WriteLine();
        Console.WriteLine("| workload | kv-node | etcd | ours / etcd |");
        Console.WriteLine("| --- | --: | --: | --: |");
        foreach (var workload in new[] { "put", "get" })
        {
            foreach (var clients in options.Clients)
            {
                var label = $"{workload}, {clients} client{(clients == 1 ? "" : "s")}";
                Row($"{label}: ops/s", r => r.OpsPerSecond, higherIsBetter: true);
                Row($"{label}: p50 latency (ms)", r => r.P50Ms, higherIsBetter: false);
                Row($"{label}: p99 latency (ms)", r => r.P99Ms, higherIsBetter: false);
                Row($"{label}: server CPU per op (µs, 3 processes)", r => r.ServerCpuUsPerOp, higherIsBetter: false);
                Row($"{label}: client CPU per op (µs)", r => r.ClientCpuUsPerOp, higherIsBetter: false);

                void Row(string name, Func<RunResult, double> metric, bool higherIsBetter)
                {
                    double? a = ours is null ? null : Sample.Median(results[(ours, workload, clients)].Select(metric).ToArray());
                    double? b = etcd is null ? null : Sample.Median(results[(etcd, workload, clients)].Select(metric).ToArray());
                    var ratio = a is { } x && b is { } y ? (higherIsBetter ? x / y : y / x).ToString("P0", CultureInfo.InvariantCulture) : "-";
                    Console.WriteLine($"| {name} | {(a is { } av ? Sample.Format(av) : "-")} | {(b is { } bv ? Sample.Format(bv) : "-")} | {ratio} |");
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine($"Idle servers (3 processes together, no load): {string.Join("; ", idle.Select(i => $"{i.Key} {i.Value.ToString("P0", CultureInfo.InvariantCulture)} of a core"))}.");
        var errors = results.Where(r => r.Value.Sum(x => x.Errors) > 0).Select(r => $"{r.Key.System} {r.Key.Workload} x{r.Key.Clients}: {r.Value.Sum(x => x.Errors)}").ToArray();
        Console.WriteLine();
        Console.WriteLine(errors.Length == 0 ? "No operation failed in the timed runs." : $"Failed operations (not timed, not counted): {string.Join("; ", errors)}.");
    }

    /// <summary>Stops every system once, whether called from Ctrl-C or from the normal end (or both).</summary>
    internal static void StopAll(List<IBenchSystem> systems, string directory)
    {
        IBenchSystem[] stopping;
        lock (systems)
        {
            stopping = [.. systems];
            systems.Clear();
        }

        foreach (var s in stopping)
        {
            s.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"could not remove {directory}: {e.Message}");
        }
    }

    internal static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private sealed record Options(TimeSpan Duration, int Runs, int[] Clients, int Keys, string[] Systems, string EtcdBinary, string KvNode)
    {
        public static Options Parse(string[] args)
        {
            var duration = 5.0;
            var runs = 5;
            int[] clients = [1, 64];
            var keys = 100_000;
            string[] systems = ["kv-node", "etcd"];
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

            return new Options(TimeSpan.FromSeconds(duration), runs, clients, keys, systems, etcd, kvNode);
        }

        private static double Positive(string name, string value) =>
            double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 && v < int.MaxValue
                ? v
                : throw new FormatException($"{name} takes a positive number, not '{value}'");
    }
}
