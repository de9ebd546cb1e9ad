using System.Globalization;
using System.Text;
using Kv.Bench.Harness;
using StorageEngine = Kv.Node.Storage.Engine;

namespace Kv.Bench.Engine;

/// <summary>
/// kv-bench engine [--runs N] [--warmups N] [--keys N] [--get-ops N] [--batches N] [--batch-size N]
/// [--scan-passes N] [--c-peer PATH]
///
/// The storage engine (node/Storage) against a C program over the same RocksDB C API with the same
/// options (bench/c/engine_bench.c), in the same run on the same machine:
/// 1. Both sides open their own stores under one temp folder and load the read store identically;
///    the suite checks that RocksDB wrote identical OPTIONS files for the two, or stops.
/// 2. Warm-up: every workload runs on both sides, untimed for the table.
/// 3. Each run, every workload runs once on each side, in turns; the side that goes first
///    alternates from run to run, so drift in the machine's load falls on both.
/// 4. The table gives medians over runs, the ratio C#/C of the medians, and the overhead
///    (C's ops/s over C#'s, minus one: the extra time per operation the binding costs), once by
///    wall time and once by the issuing thread's CPU time, which a loaded machine disturbs far less.
/// The temp folder is removed at the end, also on failure.
/// </summary>
internal static class EngineBench
{
    private static readonly string[] AllWorkloads = ["put", "get", "batch-sync", "scan-forward", "scan-reverse"];

    // Analysis only, by --workloads: the C peer runs its plain forward scan for it.
    private static readonly string[] ExtraWorkloads = ["scan-forward-raw"];

    public static int Run(string[] args)
    {
        if (!TryParse(args, out var config, out var peerPath, out var workloads))
        {
            Console.Error.WriteLine("usage: kv-bench engine [--runs N] [--warmups N] [--keys N (power of two)] [--get-ops N] [--batches N] [--batch-size N] [--scan-passes N] [--c-peer PATH] [--workloads put,get,batch-sync,scan-forward,scan-reverse[,scan-forward-raw]]");
            return 2;
        }

        peerPath ??= CPeer.Locate();
        if (peerPath is null || !File.Exists(peerPath))
        {
            Console.Error.WriteLine($"kv-bench engine: the C peer {peerPath ?? "bench/c/engine_bench"} is not built; './kv.sh bench engine' builds it (bench/run.sh), or pass --c-peer PATH");
            return 1;
        }

        var source = Path.ChangeExtension(peerPath, ".c");
        if (File.Exists(source) && File.GetLastWriteTimeUtc(source) > File.GetLastWriteTimeUtc(peerPath))
        {
            Console.Error.WriteLine($"kv-bench engine: {peerPath} is older than {source}; rebuild it with './kv.sh bench engine'");
            return 1;
        }

        var root = Path.Combine(Path.GetTempPath(), $"kv-bench-engine-{Environment.ProcessId}");
        var loadAtStart = LoadAverage();
        try
        {
            return Measure(config, workloads, peerPath, root, loadAtStart);
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private static int Measure(EngineBenchConfig config, string[] workloads, string peerPath, string root, string loadAtStart)
    {
        Console.Error.WriteLine($"engine: loading {config.Keys} keys on each side under {root}");
        using var csharp = new EngineWorkloads(config, Path.Combine(root, "csharp"));
        // The engine's atomic_flush choice is still moving, so the peer mirrors it; every other
        // option must already agree, which the comparison below checks.
        var atomicFlush = OptionsOf(csharp.ReadStorePath).Contains("atomic_flush=true", StringComparer.Ordinal);
        using var c = CPeer.Start(peerPath, Path.Combine(root, "c"), config, atomicFlush);
        var optionsDifference = CompareOptions(csharp.ReadStorePath, Path.Combine(root, "c", "reads"));
        if (optionsDifference is not null)
        {
            Console.Error.WriteLine($"kv-bench engine: the two stores were opened with different options, so a ratio would mean nothing: {optionsDifference}");
            return 1;
        }

        for (var w = 0; w < config.Warmups; w++)
        {
            foreach (var workload in workloads)
            {
                Console.Error.WriteLine($"engine: warm-up {w + 1}/{config.Warmups} {workload}");
                csharp.Run(workload);
                c.Run(workload);
            }
        }

        var results = new Dictionary<string, (List<WorkloadResult> CSharp, List<WorkloadResult> C)>(StringComparer.Ordinal);
        foreach (var workload in workloads)
        {
            results[workload] = ([], []);
        }

        for (var run = 0; run < config.Runs; run++)
        {
            foreach (var workload in workloads)
            {
                Console.Error.WriteLine($"engine: run {run + 1}/{config.Runs} {workload}");
                var (mine, theirs) = results[workload];
                if (run % 2 == 0)
                {
                    mine.Add(csharp.Run(workload));
                    theirs.Add(c.Run(workload));
                }
                else
                {
                    theirs.Add(c.Run(workload));
                    mine.Add(csharp.Run(workload));
                }
            }
        }

        Console.WriteLine(Table(config, workloads, results, loadAtStart, LoadAverage()));
        return 0;
    }

    private static string Table(EngineBenchConfig config, string[] workloads, Dictionary<string, (List<WorkloadResult> CSharp, List<WorkloadResult> C)> results, string loadAtStart, string loadAtEnd)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"### engine: node/Storage (C#) vs bench/c/engine_bench (C), {StorageEngine.NativeLibrary}");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"{config.Keys} keys of 16 B with 100 B values in the default column family; get: {config.GetOps} random existing keys; batch-sync: {config.Batches} batches of {config.BatchSize} puts, sync=true (ops are batches); scans: {config.ScanPasses} passes over every key (ops are entries). Medians of {config.Runs} runs per side after {config.Warmups} warm-up, C# and C interleaved. {Environment.ProcessorCount} cores; load average {loadAtStart} at the start, {loadAtEnd} at the end. The two stores' OPTIONS files are identical.");
        s.AppendLine();
        s.AppendLine("| workload | C# median ops/s | C median ops/s | ratio C#/C | C# overhead | C# ops/CPU-s | C ops/CPU-s | ratio C#/C (CPU) | C# overhead (CPU) | C# p50 | C p50 |");
        s.AppendLine("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        foreach (var workload in workloads)
        {
            var (mine, theirs) = results[workload];
            var wall = (CSharp: Sample.Median(Select(mine, r => r.OpsPerSecond)), C: Sample.Median(Select(theirs, r => r.OpsPerSecond)));
            var cpu = (CSharp: Sample.Median(Select(mine, r => r.OpsPerCpuSecond)), C: Sample.Median(Select(theirs, r => r.OpsPerCpuSecond)));
            s.AppendLine(CultureInfo.InvariantCulture, $"| {workload} | {Sample.Format(wall.CSharp)} | {Sample.Format(wall.C)} | {wall.CSharp / wall.C:F3} | {Overhead(wall)} | {Sample.Format(cpu.CSharp)} | {Sample.Format(cpu.C)} | {cpu.CSharp / cpu.C:F3} | {Overhead(cpu)} | {P50(mine)} | {P50(theirs)} |");
        }

        s.AppendLine();
        s.AppendLine("Every run in order, ops/s (ops/CPU-s):");
        s.AppendLine();
        foreach (var workload in workloads)
        {
            var (mine, theirs) = results[workload];
            s.AppendLine(CultureInfo.InvariantCulture, $"- {workload}: C# {Runs(mine)}; C {Runs(theirs)}");
        }

        return s.ToString();
    }

    private static double[] Select(List<WorkloadResult> runs, Func<WorkloadResult, double> field) => runs.Select(field).ToArray();

    private static string Runs(List<WorkloadResult> runs) =>
        string.Join(", ", runs.Select(r => $"{Sample.Format(r.OpsPerSecond)} ({Sample.Format(r.OpsPerCpuSecond)})"));

    /// <summary>The extra time per operation the binding costs: C's rate over C#'s, minus one.</summary>
    private static string Overhead((double CSharp, double C) rates) =>
        ((rates.C / rates.CSharp) - 1).ToString("+0.0%;-0.0%", CultureInfo.InvariantCulture);

    /// <summary>Median over runs of each run's p50 latency, in microseconds; a dash where it was not measured.</summary>
    private static string P50(List<WorkloadResult> runs) =>
        double.IsNaN(runs[0].P50Micros) ? "-" : $"{Sample.Format(Sample.Median(runs.Select(r => r.P50Micros).ToArray()))} µs";

    /// <summary>Null when RocksDB wrote the same OPTIONS file (minus comments) for both stores, else the first difference.</summary>
    private static string? CompareOptions(string csharpStore, string cStore)
    {
        var mine = OptionsOf(csharpStore);
        var theirs = OptionsOf(cStore);
        for (var i = 0; i < Math.Max(mine.Length, theirs.Length); i++)
        {
            var a = i < mine.Length ? mine[i] : "(end of file)";
            var b = i < theirs.Length ? theirs[i] : "(end of file)";
            if (a != b)
            {
                return $"line {i + 1}: C# '{a}' vs C '{b}'";
            }
        }

        return null;
    }

    /// <summary>The lines of the newest OPTIONS file RocksDB wrote for a store, trimmed, without comments.</summary>
    private static string[] OptionsOf(string store) =>
        File.ReadAllLines(Directory.GetFiles(store, "OPTIONS-*").Order(StringComparer.Ordinal).Last())
            .Select(line => line.Trim()).Where(line => !line.StartsWith('#')).ToArray();

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static bool TryParse(string[] args, out EngineBenchConfig config, out string? peerPath, out string[] workloads)
    {
        config = new EngineBenchConfig();
        peerPath = null;
        workloads = AllWorkloads;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--c-peer" && i + 1 < args.Length)
            {
                peerPath = Path.GetFullPath(args[++i]);
                continue;
            }

            if (args[i] == "--workloads" && i + 1 < args.Length)
            {
                workloads = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (workloads.Length == 0 || !workloads.All(w => AllWorkloads.Contains(w) || ExtraWorkloads.Contains(w)))
                {
                    return false;
                }

                continue;
            }

            if (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
            {
                return false;
            }

            switch (args[i++])
            {
                case "--runs": config = config with { Runs = n }; break;
                case "--warmups": config = config with { Warmups = n }; break;
                case "--keys": config = config with { Keys = n }; break;
                case "--get-ops": config = config with { GetOps = n }; break;
                case "--batches": config = config with { Batches = n }; break;
                case "--batch-size": config = config with { BatchSize = n }; break;
                case "--scan-passes": config = config with { ScanPasses = n }; break;
                default: return false;
            }
        }

        return (config.Keys & (config.Keys - 1)) == 0;
    }
}
