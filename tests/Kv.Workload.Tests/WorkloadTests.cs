namespace Kv.Workload.Tests;

/// <summary>The workloads against the in-memory store: correct SI passes both checkers; each
/// deliberate bug is caught.</summary>
public class WorkloadTests
{
    private const int Seeds = 40;

    private static async Task<List<Operation>> RunAsync(string workload, StoreBugs bugs, int seed = 7, int opsPerClient = 250)
    {
        var path = Path.Combine(Path.GetTempPath(), $"kv-workload-{Guid.NewGuid():N}.jsonl");
        try
        {
            var store = new MemoryTxnStore(bugs, seed);
            var options = new WorkloadOptions { Clients = 4, OpsPerClient = opsPerClient, Seed = seed, ProcessPrefix = "t", Accounts = 5, Keys = 4 };
            using (var history = HistoryWriter.Create(path))
            {
                Workload w = workload == "bank" ? new BankWorkload(store, history, options) : new ListAppendWorkload(store, history, options);
                await w.RunAsync();
            }
            return HistoryReader.Load([path]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Bank_on_a_snapshot_isolation_store_is_valid()
    {
        var ops = await RunAsync("bank", StoreBugs.None);
        var r = BankChecker.Check(ops);
        Assert.True(r.Valid, string.Join(" | ", r.Violations));
        Assert.True(r.Counts.GetValueOrDefault("transfer-ok") > 100);
        Assert.True(r.Counts.GetValueOrDefault("transfer-fail") > 0, "no write conflict happened: the test exercised no concurrency");
    }

    [Fact]
    public async Task List_append_on_a_snapshot_isolation_store_is_valid()
    {
        var ops = await RunAsync("list-append", StoreBugs.None);
        var r = ListAppendChecker.Check(ops);
        Assert.True(r.Valid, string.Join(" | ", r.Violations));
        Assert.True(r.Counts.GetValueOrDefault("txn-ok") > 100);
        Assert.True(r.Counts.GetValueOrDefault("txn-fail") > 0, "no write conflict happened: the test exercised no concurrency");
    }

    [Theory]
    [InlineData(StoreBugs.NoConflictDetection)]
    [InlineData(StoreBugs.LoseWrites)]
    public async Task Bank_on_a_broken_store_is_invalid(StoreBugs bugs)
    {
        var r = BankChecker.Check(await RunAsync("bank", bugs));
        Assert.False(r.Valid);
    }

    [Theory]
    [InlineData(StoreBugs.NoConflictDetection)]
    [InlineData(StoreBugs.LoseWrites)]
    [InlineData(StoreBugs.ReadLatest)]
    public async Task List_append_on_a_broken_store_is_invalid(StoreBugs bugs)
    {
        var r = ListAppendChecker.Check(await RunAsync("list-append", bugs));
        Assert.False(r.Valid);
    }

    private static CheckResult Check(string workload, List<Operation> ops) =>
        workload == "bank" ? BankChecker.Check(ops) : ListAppendChecker.Check(ops);

    [Theory]
    [InlineData("bank")]
    [InlineData("list-append")]
    public async Task The_snapshot_isolation_store_passes_on_every_seed(string workload)
    {
        for (int seed = 1; seed <= Seeds; seed++)
        {
            var r = Check(workload, await RunAsync(workload, StoreBugs.None, seed, opsPerClient: 100));
            Assert.True(r.Valid, $"seed {seed}: {string.Join(" | ", r.Violations)}");
        }
    }

    /// <summary>
    /// Each new broken store is caught, by the check written for it, on at least 95 % of seeds:
    /// a stale start_ts by the timestamp/real-time check, a long fork by G-nonadjacent (before
    /// real-time edges are added), a repeated scan row by the raw-row check.
    /// </summary>
    [Theory]
    [InlineData(StoreBugs.StaleSnapshot, "list-append", "ts-realtime")]
    [InlineData(StoreBugs.StaleSnapshot, "list-append", "G-single-realtime")]
    [InlineData(StoreBugs.LongFork, "list-append", "G-nonadjacent")]
    [InlineData(StoreBugs.DuplicateRow, "bank", "duplicate-row")]
    public async Task A_broken_store_is_flagged_on_at_least_95_percent_of_seeds(StoreBugs bugs, string workload, string kind)
    {
        var missed = new List<int>();
        for (int seed = 1; seed <= Seeds; seed++)
        {
            if (!Check(workload, await RunAsync(workload, bugs, seed, opsPerClient: 100)).HasViolation(kind))
            {
                missed.Add(seed);
            }
        }

        Assert.True((Seeds - missed.Count) * 100 >= Seeds * 95,
            $"{kind} caught {bugs} on only {Seeds - missed.Count} of {Seeds} seeds (want at least 95 %); missed seeds {string.Join(' ', missed)}");
    }
}
