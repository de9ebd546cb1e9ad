using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Proto.V1;
using Kv.System.Tests.Cluster;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// A transaction's client killed with SIGKILL in the middle of its commit (Percolator, shared/DESIGN.md
/// section 6): a real kv-workload crash-commit process commits through Kv.Client's own commit path
/// and stops at a stage, against a 3-node cluster of real kv-node processes, with the transaction's
/// primary "crash/a" and secondary "crash/z" in two ranges (split at "crash/m").
/// What they check (Percolator's cleanup, paraphrased): a client that dies mid-commit leaves locks;
/// a reader that meets one asks the primary, rolls it forward if the primary committed, and rolls
/// the transaction back otherwise once its TTL has passed. In-process versions, which only write a
/// dead writer's locks over RPC, are in Kv.Node.Tests' TransactionTests.
/// </summary>
public sealed class CrashedClientTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(60);

    // The lock TTL is 3 s (Transaction.BaseTtl): the reader of the first test waits that long on a loaded machine.
    private static readonly TimeSpan ReaderDeadline = TimeSpan.FromSeconds(60);

    private const string PrimaryKey = "crash/a";
    private const string SecondaryKey = "crash/z";
    private const string SplitKey = "crash/m";

    [Fact]
    public async Task A_client_killed_between_prewrite_and_commit_is_rolled_back_by_a_reader_after_the_TTL_all_or_nothing()
    {
        await using var cluster = new TestCluster(output);
        await using var client = await SetUpAsync(cluster);
        using var probe = cluster.Probe();

        // 1. The client prewrites both keys (both locked), stops before drawing commit_ts, and is killed.
        var crashed = await CrashAtAsync(cluster, "after-prewrite");

        // 2. Both locks are there: the kill came between prewrite and commit.
        var deadline = DateTime.UtcNow + Ready;
        var primaryLock = Assert.Single(await LocksOfAsync(probe, PrimaryKey, crashed.StartTs, deadline));
        var secondaryLock = Assert.Single(await LocksOfAsync(probe, SecondaryKey, crashed.StartTs, deadline));
        Assert.Equal(PrimaryKey, primaryLock.PrimaryLock.ToStringUtf8());
        Assert.Equal(PrimaryKey, secondaryLock.PrimaryLock.ToStringUtf8());
        Assert.Equal([SecondaryKey], primaryLock.Secondaries.Select(s => s.ToStringUtf8()));

        // 3. A reader meets the secondary's lock first: it waits out the TTL, rolls the transaction
        //    back at its primary, and sees the old value of both keys (none of the transaction).
        var reader = await client.BeginAsync();
        Assert.Equal("old", S(await reader.GetAsync(B(SecondaryKey))));
        Assert.Equal("old", S(await reader.GetAsync(B(PrimaryKey))));

        // The rollback needed a TSO time past the primary lock's TTL (the client's heartbeats had
        // stopped with it, so the TTL seen in step 2 is final); any later timestamp is past it too.
        // Necessary, not sufficient: a rollback before the TTL is caught only if the reader was quick.
        var now = await client.GetTimestampAsync();
        Assert.True(now.PhysicalMs > crashed.StartTs.PhysicalMs + (long)primaryLock.LockTtlMs,
            $"the transaction was rolled back, but the TSO is at {now.PhysicalMs} ms, not past its primary lock's expiry at {crashed.StartTs.PhysicalMs} + {primaryLock.LockTtlMs} ms");

        // 4. No lock of it remains, and it can never commit: its primary is rolled back for good.
        Assert.Empty(await LocksOfAsync(probe, PrimaryKey, crashed.StartTs, deadline));
        Assert.Empty(await LocksOfAsync(probe, SecondaryKey, crashed.StartTs, deadline));
        var status = await client.LockResolver.CheckTxnStatusAsync(B(PrimaryKey), crashed.StartTs, rollbackIfNotExist: false);
        Assert.Equal(TxnStatusKind.RolledBack, status.Kind);
        var later = await client.BeginAsync();
        Assert.Equal("old", S(await later.GetAsync(B(PrimaryKey))));
        Assert.Equal("old", S(await later.GetAsync(B(SecondaryKey))));
    }

    [Fact]
    public async Task A_client_killed_after_committing_the_primary_has_its_secondary_committed_by_a_reader()
    {
        await using var cluster = new TestCluster(output);
        await using var client = await SetUpAsync(cluster);
        using var probe = cluster.Probe();

        // 1. The client prewrites both keys, commits the primary, and is killed before the secondaries.
        var crashed = await CrashAtAsync(cluster, "after-primary-commit");
        Assert.True(crashed.CommitTs > crashed.StartTs, $"the stage line gave commit_ts {crashed.CommitTs.Value} not above start_ts {crashed.StartTs.Value}");

        // 2. The primary is committed (no lock) and the secondary is still locked: the kill came
        //    after the primary's commit and before the secondaries'.
        var deadline = DateTime.UtcNow + Ready;
        Assert.Empty(await LocksOfAsync(probe, PrimaryKey, crashed.StartTs, deadline));
        var secondaryLock = Assert.Single(await LocksOfAsync(probe, SecondaryKey, crashed.StartTs, deadline));
        Assert.Equal(PrimaryKey, secondaryLock.PrimaryLock.ToStringUtf8());

        // 3. A reader meets the secondary's lock, finds the primary committed, commits the secondary
        //    at the primary's commit_ts (no TTL to wait for), and sees the new value of both keys.
        var reader = await client.BeginAsync();
        Assert.Equal("new", S(await reader.GetAsync(B(SecondaryKey))));
        Assert.Equal("new", S(await reader.GetAsync(B(PrimaryKey))));

        // 4. No lock of it remains; it is committed at the commit_ts the client drew.
        Assert.Empty(await LocksOfAsync(probe, PrimaryKey, crashed.StartTs, deadline));
        Assert.Empty(await LocksOfAsync(probe, SecondaryKey, crashed.StartTs, deadline));
        var status = await client.LockResolver.CheckTxnStatusAsync(B(PrimaryKey), crashed.StartTs, rollbackIfNotExist: false);
        Assert.Equal(TxnStatusKind.Committed, status.Kind);
        Assert.Equal(crashed.CommitTs, status.CommitTs);
    }

    /// <summary>
    /// Starts the cluster, splits at "crash/m" (waiting until placement lists the right half, which
    /// the clients route by) and commits crash/a="old", crash/z="old". Returns a client whose
    /// operations (a reader's wait for a TTL included) may take <see cref="ReaderDeadline"/>.
    /// </summary>
    private static async Task<KvClient> SetUpAsync(TestCluster cluster)
    {
        cluster.StartAll();
        await cluster.WaitReadyAsync(Ready);
        var client = cluster.Client(ReaderDeadline);
        try
        {
            // A Split operation of range 1 (the whole key space at the start), submitted and waited for.
            await using (var admin = cluster.Admin(Ready))
            {
                await admin.RunAsync(OperationRequest.Split(new RangeId(1), B(SplitKey)));
            }

            await Eventually.TrueAsync(async () =>
            {
                var ranges = await client.ListRangesAsync();
                return (ranges.Any(r => r.Range.StartKey.ToStringUtf8() == SplitKey), $"placement lists {ranges.Count} range(s), none starting at {SplitKey}");
            }, DateTime.UtcNow + Ready);

            var setup = await client.BeginAsync();
            setup.Put(B(PrimaryKey), B("old"));
            setup.Put(B(SecondaryKey), B("old"));
            await setup.CommitAsync();
            await setup.SecondariesCommitted;
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Runs <c>kv-workload crash-commit --stage stage --put crash/a=new --put crash/z=new</c>, waits
    /// (with a deadline) for its stage line, kills it with SIGKILL and checks that it died of it.
    /// </summary>
    private async Task<StageLine> CrashAtAsync(TestCluster cluster, string stage)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] args =
        [
            Path.Combine(AppContext.BaseDirectory, "kv-workload.dll"), "crash-commit", "--endpoints", cluster.JoinList,
            "--stage", stage, "--put", PrimaryKey + "=new", "--put", SecondaryKey + "=new",
        ];
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        output.WriteLine("$ dotnet " + string.Join(' ', args));
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start kv-workload");
        var stderr = process.StandardError.ReadToEndAsync();
        string? line = null;
        try
        {
            using var timeout = new CancellationTokenSource(Ready);
            try
            {
                line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"kv-workload crash-commit printed no stage line within {Ready.TotalSeconds} s");
            }
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(); // SIGKILL on Linux
            }

            using var exit = new CancellationTokenSource(Ready);
            await process.WaitForExitAsync(exit.Token);
        }

        output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} kill -9 kv-workload after \"{line}\" -> exit {process.ExitCode}\n{await stderr}");
        Assert.True(line is not null, $"kv-workload crash-commit exited ({process.ExitCode}) before its stage: {await stderr}");
        Assert.StartsWith($"stage {stage} ", line, StringComparison.Ordinal);

        // 128 + SIGKILL (9): it died of the kill, not of its own accord.
        Assert.Equal(137, process.ExitCode);
        var fields = line.Split(' ').Skip(2).Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1], StringComparer.Ordinal);
        Assert.Equal(PrimaryKey, fields["primary"]);
        return new StageLine(
            new Timestamp(ulong.Parse(fields["start_ts"], CultureInfo.InvariantCulture)),
            fields.TryGetValue("commit_ts", out var c) ? new Timestamp(ulong.Parse(c, CultureInfo.InvariantCulture)) : Timestamp.Zero);
    }

    /// <summary>The locks of transaction startTs on key, straight from the range's leader (nothing resolved).</summary>
    private static async Task<List<LockInfo>> LocksOfAsync(ClusterProbe probe, string key, Timestamp startTs, DateTime deadline) =>
        [.. (await probe.LocksAsync(B(key), deadline)).Where(l => l.LockVersion == startTs.Value)];

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static string S(byte[]? b) => b is null ? "(null)" : Encoding.UTF8.GetString(b);

    private sealed record StageLine(Timestamp StartTs, Timestamp CommitTs);
}
