using System.Diagnostics;
using System.Globalization;
using Kv.System.Tests.Cluster;
using Kv.Workload;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// Transactions under faults: a 3-node cluster of real kv-node processes, two kv-workload processes
/// for bank and two for list-append (real processes, their own histories), and a fault loop during
/// the run: kill -9 of a node and its restart, a leader transfer and a split through kvctl. Then the
/// bank and list-append checkers find zero violations in the merged histories.
/// </summary>
public sealed class TxnFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(60);
    private const int RunSeconds = 120;

    // Faults stop well before the workloads end, so each fault is followed by observed progress.
    private static readonly TimeSpan FaultWindow = TimeSpan.FromSeconds(70);

    [Fact]
    public async Task Bank_and_list_append_under_kill_restart_leader_transfer_and_split_have_no_violations()
    {
        await using var cluster = new TestCluster(output);
        cluster.StartAll();
        await cluster.WaitReadyAsync(Ready);
        using var probe = cluster.Probe();

        var faultsUntil = DateTime.UtcNow + FaultWindow;
        var dir = Path.Combine(cluster.Dir, "histories");
        Directory.CreateDirectory(dir);
        var workloads = new List<(string Kind, string History, Process Process, Task<string> Stdout, Task<string> Stderr)>();
        foreach (var (kind, i) in new[] { ("bank", 1), ("bank", 2), ("list-append", 1), ("list-append", 2) })
        {
            var history = Path.Combine(dir, $"{kind}-{i}.jsonl");
            var p = StartWorkload(cluster, kind, history, $"{kind}{i}", seed: i);
            workloads.Add((kind, history, p, p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync()));
        }

        // Wait until every workload has recorded some ok operations before the first fault.
        var deadline = DateTime.UtcNow + Ready;
        await Eventually.TrueAsync(() =>
        {
            var idle = workloads.Where(w => CountOk(w.History) < 10).Select(w => w.History).ToList();
            return (idle.Count == 0, "no ok operations yet in " + string.Join(", ", idle));
        }, deadline);

        // Fault loop while the workloads run.
        var faults = new List<string>();
        var splitKeys = new Queue<string>(["bank/acct/0003", "la/0004", "bank/acct/0006", "la/0002"]);
        var round = 0;
        while (DateTime.UtcNow < faultsUntil && round < 9)
        {
            switch (round % 3)
            {
                case 0:
                {
                    var victim = await cluster.RangeLeaderNodeAsync(probe, Ready);
                    await cluster.KillAsync(victim);
                    faults.Add($"kill -9 node {victim}");
                    await WaitOkProgressAsync(workloads.Select(w => w.History).ToList(), $"after node {victim} was killed");
                    cluster.Start(victim);
                    await cluster.WaitReadyAsync(Ready, expectedStoresUp: 3);
                    faults.Add($"restart node {victim}");
                    break;
                }
                case 1:
                {
                    var leader = await cluster.RangeLeaderNodeAsync(probe, Ready);
                    var target = leader % 3 + 1;
                    var r = Kvctl(cluster, "range", "transfer-leader", "--range", "1", "--store", target.ToString(CultureInfo.InvariantCulture));
                    faults.Add($"transfer-leader range 1 {leader} -> {target}: exit {r.Code}");
                    break;
                }
                default:
                {
                    if (splitKeys.TryDequeue(out var key))
                    {
                        var r = Kvctl(cluster, "range", "split", "--key", key);
                        faults.Add($"split at {key}: exit {r.Code}");
                        Assert.True(r.Code is 0 or 2, $"kvctl range split --key {key} failed: {r.Stderr}");
                    }
                    break;
                }
            }
            await WaitOkProgressAsync(workloads.Select(w => w.History).ToList(), "after " + faults[^1]);
            round++;
        }
        output.WriteLine("faults: " + string.Join("; ", faults));

        // The workloads end by themselves (--duration-s), each with a final read.
        foreach (var w in workloads)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(RunSeconds + 180));
            await w.Process.WaitForExitAsync(cts.Token);
            output.WriteLine($"kv-workload {w.Kind} -> exit {w.Process.ExitCode}\n{await w.Stdout}{await w.Stderr}");
            Assert.Equal(0, w.Process.ExitCode);
        }

        foreach (var kind in new[] { "bank", "list-append" })
        {
            var files = workloads.Where(w => w.Kind == kind).Select(w => w.History).ToList();
            var ops = HistoryReader.Load(files);
            var result = kind == "bank" ? BankChecker.Check(ops) : ListAppendChecker.Check(ops);
            using var text = new StringWriter();
            result.Print(text);
            output.WriteLine($"{kind}: {ops.Count} operations\n{text}");
            Assert.True(result.Valid, $"{kind}: {result.Violations.Count} violation(s):\n{string.Join("\n", result.Violations)}");
            var okKey = kind == "bank" ? "transfer-ok" : "txn-ok";
            Assert.True(result.Counts.GetValueOrDefault(okKey) >= 50, $"{kind}: only {result.Counts.GetValueOrDefault(okKey)} ok transactions; the run proves little");
        }
    }

    private Process StartWorkload(TestCluster cluster, string kind, string history, string prefix, int seed)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] args =
        [
            Path.Combine(AppContext.BaseDirectory, "kv-workload.dll"), kind, "--endpoints", cluster.JoinList,
            "--duration-s", RunSeconds.ToString(CultureInfo.InvariantCulture), "--clients", "3", "--history", history,
            "--process-prefix", prefix, "--seed", seed.ToString(CultureInfo.InvariantCulture), "--accounts", "8", "--initial", "100",
        ];
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        output.WriteLine("$ dotnet " + string.Join(' ', args));
        return Process.Start(info) ?? throw new InvalidOperationException("could not start kv-workload");
    }

    /// <summary>Waits until the histories that are still growing show 5 more ok operations in total.</summary>
    private static async Task WaitOkProgressAsync(IReadOnlyList<string> histories, string when)
    {
        var before = histories.Sum(CountOk);
        await Eventually.TrueAsync(() =>
        {
            var now = histories.Sum(CountOk);
            return (now >= before + 5, $"transactions made no progress {when}: {now - before} new ok operations");
        }, DateTime.UtcNow + TimeSpan.FromSeconds(60));
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

    private (int Code, string Stdout, string Stderr) Kvctl(TestCluster cluster, params string[] args) =>
        KvctlProcess.Run(output, Path.Combine(cluster.Dir, "kvctl-context.json"), [.. args, "--endpoint", cluster.Endpoints[0]]);
}
