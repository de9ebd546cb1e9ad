using System.Globalization;
using System.Text;
using Kv.Client.Cluster;

namespace Kv.Workload;

/// <summary>Where <c>kv-workload crash-commit</c> stops its transaction's commit.</summary>
public enum CrashStage
{
    /// <summary>Every key is prewritten (locked); commit_ts not drawn: the transaction must roll back.</summary>
    AfterPrewrite,

    /// <summary>The primary's commit was acknowledged; the secondaries are still locked: the transaction must commit.</summary>
    AfterPrimaryCommit,
}

/// <summary>
/// The arguments of <c>kv-workload crash-commit --endpoints A,B,C --stage after-prewrite|after-primary-commit
/// --put K=V [--put K=V ...]</c>: puts in order of the command line (the primary is the least key in byte order).
/// </summary>
public sealed record CrashCommitOptions(IReadOnlyList<string> Endpoints, CrashStage Stage, IReadOnlyList<KeyValuePair<string, string>> Puts)
{
    /// <summary>The stage's name on the command line and in the stage line.</summary>
    public static string NameOf(CrashStage stage) => stage == CrashStage.AfterPrewrite ? "after-prewrite" : "after-primary-commit";

    /// <summary>Parses the arguments after "crash-commit"; ArgumentException saying what is wrong.</summary>
    public static CrashCommitOptions Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string[]? endpoints = null;
        CrashStage? stage = null;
        var puts = new List<KeyValuePair<string, string>>();
        for (var i = 0; i < args.Count; i++)
        {
            var option = args[i];
            if (option is not ("--endpoints" or "--stage" or "--put"))
            {
                throw new ArgumentException(option.StartsWith("--", StringComparison.Ordinal)
                    ? $"unknown option {option} for crash-commit (it takes --endpoints, --stage and --put)"
                    : $"expected --option value, got \"{option}\"");
            }

            if (i + 1 >= args.Count)
            {
                throw new ArgumentException($"{option} needs a value");
            }

            var value = args[++i];
            switch (option)
            {
                case "--endpoints":
                    endpoints = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    break;
                case "--stage":
                    stage = value switch
                    {
                        "after-prewrite" => CrashStage.AfterPrewrite,
                        "after-primary-commit" => CrashStage.AfterPrimaryCommit,
                        _ => throw new ArgumentException($"--stage must be after-prewrite or after-primary-commit, got \"{value}\""),
                    };
                    break;
                default:
                    var eq = value.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0)
                    {
                        throw new ArgumentException($"--put takes KEY=VALUE with a non-empty key, got \"{value}\"");
                    }

                    var key = value[..eq];
                    if (puts.Any(p => p.Key == key))
                    {
                        throw new ArgumentException($"--put gives key \"{key}\" twice; give each key once");
                    }

                    puts.Add(new(key, value[(eq + 1)..]));
                    break;
            }
        }

        if (endpoints is not { Length: > 0 })
        {
            throw new ArgumentException("--endpoints is required (comma-separated host:port list of kv-node addresses)");
        }

        if (stage is null)
        {
            throw new ArgumentException("--stage is required: after-prewrite or after-primary-commit");
        }

        if (puts.Count == 0)
        {
            throw new ArgumentException("give at least one --put KEY=VALUE");
        }

        return new CrashCommitOptions(endpoints, stage.Value, puts);
    }
}

/// <summary>
/// kv-workload crash-commit: a client process to be killed in the middle of a commit. It begins a
/// transaction, buffers the puts and commits through the real commit path of Kv.Client
/// (Transaction.CommitAsync) with its internal stage hook set. At the chosen stage it writes one
/// line to stdout and waits until it is killed (the primary lock keeps being heartbeaten meanwhile):
///   stage after-prewrite start_ts=N primary=KEY
///   stage after-primary-commit start_ts=N commit_ts=M primary=KEY
/// A commit that fails before the stage is reported on stderr (exit 1).
/// </summary>
public static class CrashCommit
{
    public static async Task<int> RunAsync(CrashCommitOptions options, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var name = CrashCommitOptions.NameOf(options.Stage);
        await using var client = KvClient.Connect(options.Endpoints, new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(30) });
        Transaction txn;
        try
        {
            txn = await client.BeginAsync(ct);
        }
        catch (KvException e)
        {
            stderr.WriteLine($"kv-workload: could not begin the transaction ({e.Kind}): {e.Message}");
            return 1;
        }

        foreach (var (key, value) in options.Puts)
        {
            txn.Put(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value));
        }

        // The primary is the least key in byte order (Transaction's rule).
        var primary = options.Puts.Select(p => Encoding.UTF8.GetBytes(p.Key)).Order(Transaction.ByteOrder.Instance).First();
        txn.CommitStageHook = async (stage, ts) =>
        {
            if (stage != (options.Stage == CrashStage.AfterPrewrite ? TxnCommitStage.AfterPrewrite : TxnCommitStage.AfterPrimaryCommit))
            {
                return;
            }

            var commit = stage == TxnCommitStage.AfterPrimaryCommit ? " commit_ts=" + ts.Value.ToString(CultureInfo.InvariantCulture) : string.Empty;
            stdout.WriteLine($"stage {name} start_ts={txn.StartTs.Value.ToString(CultureInfo.InvariantCulture)}{commit} primary={Encoding.UTF8.GetString(primary)}");
            stdout.Flush();
            await Task.Delay(Timeout.Infinite, ct);
        };

        try
        {
            await txn.CommitAsync(ct);
        }
        catch (KvException e)
        {
            stderr.WriteLine($"kv-workload: the commit failed before stage {name} ({e.Kind}): {e.Message}");
            return 1;
        }

        // Only a hook that returned gets here, which it does not.
        stderr.WriteLine($"kv-workload: the commit finished without stopping at stage {name}");
        return 1;
    }
}
