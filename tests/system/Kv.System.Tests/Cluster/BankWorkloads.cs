using System.Diagnostics;
using System.Globalization;
using Kv.Workload;
using Xunit.Abstractions;

namespace Kv.System.Tests.Cluster;

/// <summary>
/// kv-workload bank processes against a TestCluster, as TxnFaultTests runs them: each its own
/// process with its own history file (JSON lines), ending by itself after --duration-s with a
/// final read; then the bank checker over the merged histories.
/// </summary>
public sealed class BankWorkloads : IAsyncDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly List<(string History, Process Process, Task<string> Stdout, Task<string> Stderr)> _runs = [];

    private BankWorkloads(ITestOutputHelper output) => _output = output;

    public IReadOnlyList<string> Histories => [.. _runs.Select(r => r.History)];

    /// <summary>Starts <paramref name="processes"/> bank workloads of 3 clients each over 8 accounts of 100.</summary>
    public static BankWorkloads Start(ITestOutputHelper output, TestCluster cluster, int processes, int durationSeconds)
    {
        var workloads = new BankWorkloads(output);
        var dir = Path.Combine(cluster.Dir, "histories");
        Directory.CreateDirectory(dir);
        for (var i = 1; i <= processes; i++)
        {
            var history = Path.Combine(dir, $"bank-{i}.jsonl");
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            string[] args =
            [
                Path.Combine(AppContext.BaseDirectory, "kv-workload.dll"), "bank", "--endpoints", cluster.JoinList,
                "--duration-s", durationSeconds.ToString(CultureInfo.InvariantCulture), "--clients", "3", "--history", history,
                "--process-prefix", "bank" + i.ToString(CultureInfo.InvariantCulture), "--seed", i.ToString(CultureInfo.InvariantCulture),
                "--accounts", "8", "--initial", "100",
            ];
            foreach (var a in args)
            {
                info.ArgumentList.Add(a);
            }

            output.WriteLine("$ dotnet " + string.Join(' ', args));
            var p = Process.Start(info) ?? throw new InvalidOperationException("could not start kv-workload");
            workloads._runs.Add((history, p, p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync()));
        }

        return workloads;
    }

    /// <summary>Waits until every workload has recorded at least <paramref name="ok"/> ok operations.</summary>
    public async Task WaitEachOkAsync(int ok, TimeSpan timeout)
    {
        await Eventually.TrueAsync(() =>
        {
            FailIfOneExited();
            var idle = _runs.Where(r => CountOk(r.History) < ok).Select(r => r.History).ToList();
            return (idle.Count == 0, $"fewer than {ok} ok operations yet in " + string.Join(", ", idle));
        }, DateTime.UtcNow + timeout);
    }

    /// <summary>Waits for every workload to end by itself and fails unless each exited 0.</summary>
    public async Task WaitExitAsync(TimeSpan timeout)
    {
        foreach (var r in _runs)
        {
            using var cts = new CancellationTokenSource(timeout);
            await r.Process.WaitForExitAsync(cts.Token);
            _output.WriteLine($"kv-workload bank ({r.History}) -> exit {r.Process.ExitCode}\n{await r.Stdout}{await r.Stderr}");
            Assert.Equal(0, r.Process.ExitCode);
        }
    }

    /// <summary>The bank checker's verdict over every history, printed.</summary>
    public CheckResult Check(out List<Operation> ops)
    {
        ops = HistoryReader.Load(Histories);
        var result = BankChecker.Check(ops);
        using var text = new StringWriter();
        result.Print(text);
        _output.WriteLine($"bank: {ops.Count} operations\n{text}");
        return result;
    }

    /// <summary>Transfers acknowledged (ok) whose completion falls inside [from, to].</summary>
    public static int OkTransfersCompletedBetween(IEnumerable<Operation> ops, DateTimeOffset from, DateTimeOffset to)
    {
        var fromUs = (from.UtcTicks - DateTime.UnixEpoch.Ticks) / 10;
        var toUs = (to.UtcTicks - DateTime.UnixEpoch.Ticks) / 10;
        return ops.Count(o => o.F == "transfer" && o.Type == "ok" && o.End >= fromUs && o.End <= toUs);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var r in _runs)
        {
            if (!r.Process.HasExited)
            {
                r.Process.Kill();
                await r.Process.WaitForExitAsync();
            }

            r.Process.Dispose();
        }
    }

    private void FailIfOneExited()
    {
        foreach (var r in _runs.Where(r => r.Process.HasExited))
        {
            throw new InvalidOperationException($"kv-workload ({r.History}) exited early with {r.Process.ExitCode}: {r.Stderr.Result}");
        }
    }

    /// <summary>ok lines so far (the writer may be mid-line; a torn line just does not count).</summary>
    private static int CountOk(string history)
    {
        try
        {
            using var stream = new FileStream(history, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var n = 0;
            while (reader.ReadLine() is { } line)
            {
                n += line.Contains("\"type\":\"ok\"", StringComparison.Ordinal) ? 1 : 0;
            }

            return n;
        }
        catch (FileNotFoundException)
        {
            return 0;
        }
    }
}
