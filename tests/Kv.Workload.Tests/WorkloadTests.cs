namespace Kv.Workload.Tests;

/// <summary>The workloads against the in-memory store: correct SI passes both checkers; each
/// deliberate bug is caught.</summary>
public class WorkloadTests
{
    private static async Task<List<Operation>> RunAsync(string workload, StoreBugs bugs, int seed = 7)
    {
        var path = Path.Combine(Path.GetTempPath(), $"kv-workload-{Guid.NewGuid():N}.jsonl");
        try
        {
            var store = new MemoryTxnStore(bugs, seed);
            var options = new WorkloadOptions { Clients = 4, OpsPerClient = 250, Seed = seed, ProcessPrefix = "t", Accounts = 5, Keys = 4 };
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
}
