using System.Globalization;

namespace Kv.Workload;

/// <summary>kv-workload bank|list-append --endpoints A,B,C --duration-s N --clients K --history FILE
/// [--accounts N --initial 100 --keys N --seed S --process-prefix P];
/// kv-workload check bank|list-append FILE... (exit 0 valid, 1 violations, 2 usage);
/// kv-workload crash-commit --endpoints A,B,C --stage after-prewrite|after-primary-commit --put K=V...
/// (a client that stops mid-commit to be killed: <see cref="CrashCommit"/>).</summary>
public static class WorkloadCli
{
    public const string Usage =
        "usage: kv-workload bank|list-append --endpoints A,B,C --duration-s N --clients K --history FILE [--accounts N] [--initial 100] [--keys N] [--seed S] [--process-prefix P]\n" +
        "       kv-workload check bank|list-append FILE...\n" +
        "       kv-workload crash-commit --endpoints A,B,C --stage after-prewrite|after-primary-commit --put KEY=VALUE [--put KEY=VALUE...]\n" +
        "         (commits the puts in one transaction, prints \"stage NAME start_ts=N [commit_ts=M] primary=KEY\" at the stage and waits to be killed)";

    /// <summary>Opens the store the workload runs against; set by the cluster adapter (KvClientTxnStore)
    /// once it is compiled in. Tests may set it to an in-memory store.</summary>
    public static Func<IReadOnlyList<string>, ITxnStore>? StoreFactory { get; set; }

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        try
        {
            if (args.Length >= 1 && args[0] == "check")
            {
                return Check(args, stdout);
            }
            if (args.Length >= 1 && args[0] == "crash-commit")
            {
                return await CrashCommit.RunAsync(CrashCommitOptions.Parse(args[1..]), stdout, stderr);
            }
            if (args.Length >= 1 && args[0] is "bank" or "list-append")
            {
                return await RunWorkloadAsync(args, stdout);
            }
            throw new ArgumentException(args.Length == 0 ? "no command given" : $"unknown command \"{args[0]}\"");
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or FileNotFoundException or DirectoryNotFoundException)
        {
            stderr.WriteLine("kv-workload: " + ex.Message);
            stderr.WriteLine(Usage);
            return 2;
        }
    }

    private static int Check(string[] args, TextWriter stdout)
    {
        if (args.Length < 3 || args[1] is not ("bank" or "list-append"))
        {
            throw new ArgumentException("check needs a workload (bank or list-append) and at least one history file");
        }
        var ops = HistoryReader.Load(args.Skip(2));
        var result = args[1] == "bank" ? BankChecker.Check(ops) : ListAppendChecker.Check(ops);
        stdout.WriteLine($"{args[1]}: {ops.Count} operations from {args.Length - 2} file(s)");
        result.Print(stdout);
        return result.Valid ? 0 : 1;
    }

    private static async Task<int> RunWorkloadAsync(string[] args, TextWriter stdout)
    {
        var opts = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected --option value, got \"{args[i]}\"");
            }
            opts[args[i][2..]] = args[++i];
        }
        string[] known = ["endpoints", "duration-s", "clients", "history", "accounts", "initial", "keys", "seed", "process-prefix", "ops"];
        if (opts.Keys.FirstOrDefault(k => !known.Contains(k)) is { } unknown)
        {
            throw new ArgumentException($"unknown option --{unknown}");
        }
        int Int(string name, int def, int min)
        {
            if (!opts.TryGetValue(name, out var s))
            {
                return def;
            }
            if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min)
            {
                throw new ArgumentException($"--{name} must be an integer >= {min}, got \"{s}\"");
            }
            return v;
        }
        var endpoints = opts.TryGetValue("endpoints", out var e) ? e.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
        if (endpoints.Length == 0)
        {
            throw new ArgumentException("--endpoints is required (comma-separated host:port list of kv-node addresses)");
        }
        var history = opts.GetValueOrDefault("history") ?? throw new ArgumentException("--history FILE is required");
        if (!opts.ContainsKey("duration-s") && !opts.ContainsKey("ops"))
        {
            throw new ArgumentException("give --duration-s N (or --ops N per client)");
        }
        var options = new WorkloadOptions
        {
            Clients = Int("clients", 4, 1),
            Duration = opts.ContainsKey("duration-s") ? TimeSpan.FromSeconds(Int("duration-s", 10, 1)) : null,
            OpsPerClient = opts.ContainsKey("ops") ? Int("ops", 100, 1) : null,
            Accounts = Int("accounts", 8, 2),
            Initial = Int("initial", 100, 0),
            Keys = Int("keys", 8, 1),
            Seed = Int("seed", Environment.ProcessId, 0),
            ProcessPrefix = opts.GetValueOrDefault("process-prefix") ?? "w" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
        };
        var factory = StoreFactory ?? throw new ArgumentException(
            "no cluster adapter is set (WorkloadCli.StoreFactory; Program.cs sets KvClientTxnStore.Open)");
        var store = factory(endpoints);
        try
        {
            using var writer = HistoryWriter.Create(history);
            Workload workload = args[0] == "bank" ? new BankWorkload(store, writer, options) : new ListAppendWorkload(store, writer, options);
            await workload.RunAsync();
        }
        finally
        {
            if (store is IAsyncDisposable d)
            {
                await d.DisposeAsync();
            }
        }
        stdout.WriteLine($"{args[0]}: history written to {history}");
        return 0;
    }
}
