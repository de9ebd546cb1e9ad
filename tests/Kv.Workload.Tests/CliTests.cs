using static Kv.Workload.Tests.HistoryBuilder;

namespace Kv.Workload.Tests;

public class CliTests
{
    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var o = new StringWriter();
        using var e = new StringWriter();
        var code = await WorkloadCli.RunAsync(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static string Write(HistoryBuilder h)
    {
        var path = Path.Combine(Path.GetTempPath(), $"kv-workload-cli-{Guid.NewGuid():N}.jsonl");
        using var w = HistoryWriter.Create(path);
        foreach (var op in h.Lines)
        {
            w.Write(op);
        }
        return path;
    }

    [Fact]
    public async Task Check_merges_files_and_exits_0_when_valid_and_1_with_each_violation()
    {
        var good1 = Write(new HistoryBuilder().Txn("a1", "ok", A(1, "a")));
        var good2 = Write(new HistoryBuilder().Txn("b1", "fail", A(1, "x")).Txn("b1", "ok", R(1, "a")));
        var bad = Write(new HistoryBuilder().Txn("c1", "fail", A(2, "y")).Txn("c1", "ok", R(2, "y")));
        try
        {
            var ok = await Run("check", "list-append", good1, good2);
            Assert.Equal(0, ok.Code);
            Assert.Contains("valid: no violations", ok.Out, StringComparison.Ordinal);
            var fail = await Run("check", "list-append", good1, bad);
            Assert.Equal(1, fail.Code);
            Assert.Contains("VIOLATION G1a", fail.Out, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(good1);
            File.Delete(good2);
            File.Delete(bad);
        }
    }

    [Fact]
    public async Task Bad_input_is_refused_with_a_message_and_exit_2()
    {
        var garbage = Path.GetTempFileName();
        await File.WriteAllTextAsync(garbage, "not json\n{\"process\":\"p\",\"type\":\"invoke\",\"f\":\"txn\",\"time\":1}\n");
        try
        {
            var r = await Run("check", "list-append", garbage);
            Assert.Equal(2, r.Code);
            Assert.Contains(":1: not a history line", r.Err, StringComparison.Ordinal);
            Assert.Equal(2, (await Run("frobnicate")).Code);
            var noEndpoints = await Run("bank", "--history", "x.jsonl", "--duration-s", "1");
            Assert.Equal(2, noEndpoints.Code);
            Assert.Contains("--endpoints", noEndpoints.Err, StringComparison.Ordinal);
            Assert.Equal(2, (await Run("bank", "--endpoints", "a:1", "--history", "x", "--duration-s", "zero")).Code);
        }
        finally
        {
            File.Delete(garbage);
        }
    }

    [Fact]
    public async Task The_workload_command_writes_a_history_the_checker_accepts()
    {
        var path = Path.Combine(Path.GetTempPath(), $"kv-workload-cli-{Guid.NewGuid():N}.jsonl");
        WorkloadCli.StoreFactory = _ => new MemoryTxnStore();
        try
        {
            var run = await Run("list-append", "--endpoints", "127.0.0.1:1", "--ops", "50", "--clients", "3", "--history", path, "--seed", "3");
            Assert.Equal(0, run.Code);
            var check = await Run("check", "list-append", path);
            Assert.Equal(0, check.Code);
            Assert.Contains("txn-ok=", check.Out, StringComparison.Ordinal);
        }
        finally
        {
            WorkloadCli.StoreFactory = null;
            File.Delete(path);
        }
    }
}
