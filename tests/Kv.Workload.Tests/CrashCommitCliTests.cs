namespace Kv.Workload.Tests;

/// <summary>kv-workload crash-commit's arguments (the command itself runs against real nodes in Kv.System.Tests' CrashedClientTests).</summary>
public class CrashCommitCliTests
{
    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var o = new StringWriter();
        using var e = new StringWriter();
        var code = await WorkloadCli.RunAsync(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Parses_endpoints_stage_and_puts_in_command_line_order_keeping_equals_signs_in_values()
    {
        var o = CrashCommitOptions.Parse(["--put", "crash/z=new", "--endpoints", "127.0.0.1:1, 127.0.0.1:2,", "--stage", "after-primary-commit", "--put", "crash/a=x=y", "--put", "e="]);
        Assert.Equal(["127.0.0.1:1", "127.0.0.1:2"], o.Endpoints);
        Assert.Equal(CrashStage.AfterPrimaryCommit, o.Stage);
        Assert.Equal(["crash/z=new", "crash/a=x=y", "e="], o.Puts.Select(p => $"{p.Key}={p.Value}"));
        Assert.Equal(CrashStage.AfterPrewrite, CrashCommitOptions.Parse(["--endpoints", "a:1", "--stage", "after-prewrite", "--put", "k=v"]).Stage);
        Assert.Equal("after-prewrite", CrashCommitOptions.NameOf(CrashStage.AfterPrewrite));
        Assert.Equal("after-primary-commit", CrashCommitOptions.NameOf(CrashStage.AfterPrimaryCommit));
    }

    [Theory]
    [InlineData("--endpoints is required", "--stage", "after-prewrite", "--put", "k=v")]
    [InlineData("--endpoints is required", "--endpoints", " , ", "--stage", "after-prewrite", "--put", "k=v")]
    [InlineData("--stage is required", "--endpoints", "a:1", "--put", "k=v")]
    [InlineData("--stage must be after-prewrite or after-primary-commit, got \"after-commit\"", "--endpoints", "a:1", "--stage", "after-commit", "--put", "k=v")]
    [InlineData("give at least one --put KEY=VALUE", "--endpoints", "a:1", "--stage", "after-prewrite")]
    [InlineData("--put takes KEY=VALUE with a non-empty key, got \"novalue\"", "--endpoints", "a:1", "--stage", "after-prewrite", "--put", "novalue")]
    [InlineData("--put takes KEY=VALUE with a non-empty key, got \"=v\"", "--endpoints", "a:1", "--stage", "after-prewrite", "--put", "=v")]
    [InlineData("--put gives key \"k\" twice", "--endpoints", "a:1", "--stage", "after-prewrite", "--put", "k=1", "--put", "k=2")]
    [InlineData("--put needs a value", "--endpoints", "a:1", "--stage", "after-prewrite", "--put")]
    [InlineData("unknown option --history for crash-commit", "--endpoints", "a:1", "--stage", "after-prewrite", "--put", "k=v", "--history", "h")]
    [InlineData("expected --option value, got \"k=v\"", "--endpoints", "a:1", "--stage", "after-prewrite", "k=v")]
    public async Task Bad_arguments_exit_2_saying_what_is_wrong_and_contact_no_cluster(string message, params string[] args)
    {
        var e = Assert.Throws<ArgumentException>(() => CrashCommitOptions.Parse(args));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);

        // Through the command line: exit 2, the message and the usage on stderr, nothing on stdout.
        var r = await Run(["crash-commit", .. args]);
        Assert.Equal(2, r.Code);
        Assert.Contains("kv-workload: " + message, r.Err, StringComparison.Ordinal);
        Assert.Contains("kv-workload crash-commit --endpoints", r.Err, StringComparison.Ordinal);
        Assert.Equal(string.Empty, r.Out);
    }
}
