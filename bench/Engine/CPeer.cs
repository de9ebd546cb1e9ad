using System.Diagnostics;
using System.Globalization;

namespace Kv.Bench.Engine;

/// <summary>
/// bench/c/engine_bench running in its serve mode: one child process for the whole suite, so it
/// warms up like the C# side does, and each workload run is requested over stdin and answered on
/// stdout ("result workload=put ops=... ops_per_s=... p50_us=..."). The C# side and the peer then
/// take turns, run by run.
/// </summary>
internal sealed class CPeer : IDisposable
{
    private readonly Process _process;

    private CPeer(Process process) => _process = process;

    /// <summary>Finds bench/c/engine_bench by walking up from the working and the binary's directory.</summary>
    public static string? Locate()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var source = Path.Combine(dir.FullName, "bench", "c", "engine_bench.c");
                if (File.Exists(source))
                {
                    return Path.Combine(dir.FullName, "bench", "c", "engine_bench");
                }
            }
        }

        return null;
    }

    /// <summary>Starts the peer over <paramref name="directory"/> and waits until it has loaded its read store.</summary>
    public static CPeer Start(string executable, string directory, EngineBenchConfig config, bool atomicFlush)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(directory);
        foreach (var argument in config.PeerArguments())
        {
            info.ArgumentList.Add(argument);
        }

        info.ArgumentList.Add("--atomic-flush");
        info.ArgumentList.Add(atomicFlush ? "1" : "0");
        info.ArgumentList.Add("--serve");
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {executable}");
        var peer = new CPeer(process);
        var line = process.StandardOutput.ReadLine();
        if (line != "ready")
        {
            peer.Dispose();
            throw new InvalidOperationException($"{executable} did not start (said '{line ?? "nothing"}'); its error is above");
        }

        return peer;
    }

    public WorkloadResult Run(string workload)
    {
        _process.StandardInput.WriteLine(workload);
        _process.StandardInput.Flush();
        var line = _process.StandardOutput.ReadLine()
            ?? throw new InvalidOperationException($"the C peer exited during '{workload}' (exit code {(_process.WaitForExit(5000) ? _process.ExitCode : -1)}); its error is above");
        if (!line.StartsWith("result ", StringComparison.Ordinal) || Field(line, "workload") != workload)
        {
            throw new InvalidOperationException($"the C peer answered '{line}' to '{workload}'");
        }

        var p50 = double.Parse(Field(line, "p50_us"), CultureInfo.InvariantCulture);
        return new WorkloadResult(
            double.Parse(Field(line, "ops_per_s"), CultureInfo.InvariantCulture),
            double.Parse(Field(line, "cpu_ops_per_s"), CultureInfo.InvariantCulture),
            p50 < 0 ? double.NaN : p50);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine("quit");
                _process.StandardInput.Close();
                if (!_process.WaitForExit(30_000))
                {
                    _process.Kill();
                }
            }
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static string Field(string line, string name)
    {
        foreach (var part in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.Length > name.Length && part[name.Length] == '=' && part.StartsWith(name, StringComparison.Ordinal))
            {
                return part[(name.Length + 1)..];
            }
        }

        throw new InvalidOperationException($"the C peer's line '{line}' has no {name}");
    }
}
