using System.Globalization;
using Kv.Cli.Context;
using Kv.Cli.Output;
using Kv.Client.Security;
using Kv.Client.Transport;

namespace Kv.Cli.Local;

/// <summary>What <c>kvctl local up|down|status</c> were asked; handlers get it and their writers, so tests call them directly.</summary>
internal sealed record LocalOptions
{
    /// <summary>The cluster directory as given (--dir); null for the default.</summary>
    public string? Dir { get; init; }

    /// <summary>--nodes as given; null when not given (3 for a new cluster, the existing count otherwise).</summary>
    public int? Nodes { get; init; }

    /// <summary>--timeout; null: 60 s for up (until ready), 30 s for down (until SIGKILL).</summary>
    public TimeSpan? Timeout { get; init; }

    public OutputFormat Output { get; init; } = OutputFormat.Table;

    /// <summary>--secure (up): a new cluster serves mutual TLS only, with a CA and certificates made in DIR/certs.</summary>
    public bool Secure { get; init; }

    /// <summary>The kvctl context file to write (up) or to find the cluster through (down, status); null: KvctlContext.DefaultPath.</summary>
    public string? ContextPath { get; init; }

    /// <summary>Where kvctl runs from, to find kv-node next to it.</summary>
    public string KvctlDirectory { get; init; } = AppContext.BaseDirectory;

    /// <summary>$KV_NODE_BIN.</summary>
    public string? NodeBin { get; init; } = Environment.GetEnvironmentVariable(LocalProcesses.NodeBinEnvironmentVariable);

    /// <summary>The current directory the default DIR is relative to.</summary>
    public string WorkingDirectory { get; init; } = Environment.CurrentDirectory;
}

/// <summary>The JSON/YAML document of <c>local up</c> and <c>local status</c>; field names are a contract (apiVersion bumps on change).</summary>
internal sealed record LocalClusterDocument(string ApiVersion, string Kind, string Dir, bool Running, IReadOnlyList<string> Endpoints, IReadOnlyList<LocalNodeDocument> Nodes);

internal sealed record LocalNodeDocument(int Id, string Address, int? Pid, bool Alive, bool PlacementMember, string DataDir, string Log);

/// <summary>
/// <c>kvctl local up|down|status</c>: an embedded cluster of real kv-node processes on
/// 127.0.0.1 with its data under one directory (layout in <see cref="LocalClusterRecord"/>).
///
/// The kvctl context: <c>up</c> writes it (the endpoints and this directory), so every other
/// command reaches the cluster with no flags; <c>down</c> leaves it in place, so commands run
/// after <c>down</c> say the cluster is unavailable at its endpoints (rather than that there is
/// no cluster), and <c>down</c>/<c>status</c> run from another directory still find the cluster.
/// </summary>
internal static class LocalCluster
{
    public const string DefaultDir = ".kv/local";
    public const int DefaultNodes = 3;
    private static readonly TimeSpan DefaultUpTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DefaultDownTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    public static async Task<int> UpAsync(LocalOptions options, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (options.Nodes is { } requested && requested is < 1 or > LocalClusterRecord.MaxNodes)
        {
            stderr.WriteLine($"error: --nodes {options.Nodes} is out of range: a local cluster has 1 to {LocalClusterRecord.MaxNodes} nodes");
            return ExitCodes.Usage;
        }

        var timeout = options.Timeout ?? DefaultUpTimeout;
        if (timeout <= TimeSpan.Zero)
        {
            stderr.WriteLine("error: --timeout must be a positive number of seconds");
            return ExitCodes.Usage;
        }

        var dir = Path.GetFullPath(options.Dir ?? DefaultDir, options.WorkingDirectory);
        LocalClusterRecord? record;
        try
        {
            record = LocalClusterRecord.Load(dir);
        }
        catch (InvalidDataException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }

        if (record is not null && options.Nodes is { } n && n != record.Nodes.Count)
        {
            stderr.WriteLine($"error: the local cluster in {dir} has {record.Nodes.Count} nodes, not {n}; its membership cannot change. " +
                $"Run `kvctl local up --dir {dir}` without --nodes, or `kvctl local down --dir {dir}`, move {dir} away, and run up again for a new {n}-node cluster (or use another --dir)");
            return ExitCodes.Usage;
        }

        if (record is null)
        {
            if (Directory.Exists(LocalClusterRecord.NodeDir(dir, 1)))
            {
                stderr.WriteLine($"error: {dir} holds node directories but no {LocalClusterRecord.FileName}, so the addresses its nodes were created with are unknown; move {dir} away (or pass another --dir) and run up again");
                return ExitCodes.Failed;
            }

            record = LocalClusterRecord.Create(LocalPorts.PickFree(options.Nodes ?? DefaultNodes), DateTimeOffset.UtcNow) with { Secure = options.Secure };
            LocalClusterRecord.Save(dir, record);
        }
        else if (options.Secure && !record.Secure)
        {
            stderr.WriteLine($"error: the local cluster in {dir} was created without --secure and serves cleartext; a cluster keeps its mode. " +
                $"Run `kvctl local up --dir {dir}` without --secure, or `kvctl local down --dir {dir}`, move {dir} away and run `kvctl local up --secure` for a new secure cluster");
            return ExitCodes.Usage;
        }

        if (record.Secure)
        {
            try
            {
                LocalCertificates.Ensure(LocalClusterRecord.CertDir(dir));
            }
            catch (Exception e) when (e is KvCertificateException or IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"error: cannot make the secure cluster's certificates in {LocalClusterRecord.CertDir(dir)}: {e.Message}");
                return ExitCodes.Failed;
            }
        }

        // Which nodes to start: those whose recorded process is not (still) their kv-node.
        var toStart = record.Nodes.Where(node => !LocalProcesses.IsNode(node.Pid, LocalClusterRecord.DataDir(dir, node.Id))).ToList();
        if (toStart.Count > 0)
        {
            // Refusals first, so a refused up starts nothing.
            foreach (var node in toStart)
            {
                if (!LocalPorts.IsFree(node.Port))
                {
                    var holder = LocalPorts.DescribeListener(node.Port);
                    stderr.WriteLine($"error: port {node.Port} of node {node.Id} is in use{(holder is null ? string.Empty : " by " + holder)}; " +
                        $"the cluster's nodes must keep their addresses, so stop that process and run `kvctl local up --dir {dir}` again");
                    return ExitCodes.Failed;
                }
            }

            var launcher = LocalProcesses.FindNode(options.KvctlDirectory, options.NodeBin, out var problem);
            if (launcher is null)
            {
                stderr.WriteLine($"error: {problem}");
                return ExitCodes.Failed;
            }

            foreach (var node in toStart)
            {
                Directory.CreateDirectory(LocalClusterRecord.NodeDir(dir, node.Id));
                var pid = LocalProcesses.StartDetached(launcher, NodeArguments(record, dir, node), LocalClusterRecord.LogPath(dir, node.Id));
                record = record.WithPid(node.Id, pid);
                LocalClusterRecord.Save(dir, record);
                stderr.WriteLine($"started node {node.Id} on {LocalClusterRecord.Address(node.Port)} (pid {pid}, log {LocalClusterRecord.LogPath(dir, node.Id)})");
            }
        }

        // The context first, so the cluster is reachable with no flags even while it gets ready (or if it does not).
        var contextPath = options.ContextPath ?? KvctlContext.DefaultPath;
        var certs = LocalClusterRecord.CertDir(dir);
        KvctlContext.Save(contextPath, record.Secure
            ? new KvctlContext { Endpoints = record.Endpoints(), LocalDir = dir, CaCertificate = LocalCertificates.Ca(certs), ClientCertificate = LocalCertificates.AdminCertificate(certs), ClientKey = LocalCertificates.AdminKey(certs) }
            : new KvctlContext { Endpoints = record.Endpoints(), LocalDir = dir });
        var channel = record.Secure ? KvChannelOptions.MutualTls(LocalCertificates.Ca(certs), LocalCertificates.AdminCertificate(certs), LocalCertificates.AdminKey(certs)) : null;

        var deadline = DateTime.UtcNow + timeout;
        using (var readiness = new ClusterReadiness(record.Endpoints(), LocalClusterRecord.PlacementMemberCount(record.Nodes.Count), channel))
        {
            string? notReady;
            while (true)
            {
                var exited = record.Nodes.FirstOrDefault(node => LocalProcesses.HasExited(node.Pid, LocalClusterRecord.DataDir(dir, node.Id)));
                if (exited is not null)
                {
                    var log = LocalClusterRecord.LogPath(dir, exited.Id);
                    stderr.WriteLine($"error: node {exited.Id} (pid {exited.Pid}) exited while the cluster was starting; the end of its log ({log}):");
                    foreach (var line in Tail(log, 15))
                    {
                        stderr.WriteLine("  " + line);
                    }

                    stderr.WriteLine($"Fix what it says, then run `kvctl local up --dir {dir}` again (running nodes are kept).");
                    return ExitCodes.Failed;
                }

                try
                {
                    notReady = await readiness.CheckAsync(ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    stderr.WriteLine($"interrupted: the nodes keep running; see `kvctl local status --dir {dir}`, or stop them with `kvctl local down --dir {dir}`");
                    return ExitCodes.Interrupted;
                }

                if (notReady is null || DateTime.UtcNow >= deadline)
                {
                    break;
                }

                await Task.Delay(PollInterval, ct);
            }

            if (notReady is not null)
            {
                stderr.WriteLine($"error: the cluster is not ready after {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s: {notReady}. " +
                    $"The nodes keep running; their logs are {Path.Combine(dir, "node*", "kv-node.log")}. Check them, then run `kvctl local up --dir {dir}` again (or pass a longer --timeout)");
                return ExitCodes.Unavailable;
            }

            if (readiness.BootstrappedNow)
            {
                stderr.WriteLine($"bootstrapped cluster {readiness.ClusterId}");
            }
        }

        Write(stdout, options.Output, Describe(dir, record));
        if (options.Output == OutputFormat.Table)
        {
            stdout.WriteLine();
            stdout.WriteLine($"ready. kvctl context {contextPath} points at {string.Join(",", record.Endpoints())}; other kvctl commands need no --endpoint.");
            if (record.Secure)
            {
                stdout.WriteLine($"secure: mutual TLS only; the context carries the CA and an admin certificate from {certs} (kvctl cert create-client --dir {certs} --role client makes an application certificate).");
            }
        }

        return ExitCodes.Ok;
    }

    public static async Task<int> DownAsync(LocalOptions options, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var timeout = options.Timeout ?? DefaultDownTimeout;
        if (timeout <= TimeSpan.Zero)
        {
            stderr.WriteLine("error: --timeout must be a positive number of seconds");
            return ExitCodes.Usage;
        }

        if (!TryResolveExisting(options, stderr, out var dir, out var record))
        {
            return ExitCodes.Failed;
        }

        if (record is null)
        {
            stdout.WriteLine($"no local cluster in {dir}; nothing to stop");
            return ExitCodes.Ok;
        }

        var running = new List<LocalNodeRecord>();
        foreach (var node in record.Nodes)
        {
            if (!LocalProcesses.IsNode(node.Pid, LocalClusterRecord.DataDir(dir, node.Id)))
            {
                stdout.WriteLine(node.Pid is null
                    ? $"node {node.Id}: not running"
                    : $"node {node.Id}: not running (pid {node.Pid} is not its kv-node any more; not signalled)");
                continue;
            }

            LocalProcesses.Signal(node.Pid!.Value, "TERM");
            running.Add(node);
        }

        var deadline = DateTime.UtcNow + timeout;
        foreach (var node in running)
        {
            var pid = node.Pid!.Value;
            if (await LocalProcesses.WaitForExitAsync(pid, deadline, ct))
            {
                stdout.WriteLine($"node {node.Id}: stopped (pid {pid})");
                continue;
            }

            // Still our node (checked again: the pid could have exited and been reused meanwhile).
            if (LocalProcesses.IsNode(pid, LocalClusterRecord.DataDir(dir, node.Id)))
            {
                LocalProcesses.Signal(pid, "KILL");
                await LocalProcesses.WaitForExitAsync(pid, DateTime.UtcNow + TimeSpan.FromSeconds(10), ct);
                stdout.WriteLine($"node {node.Id}: did not stop within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s of SIGTERM; killed it (SIGKILL, pid {pid}); see {LocalClusterRecord.LogPath(dir, node.Id)}");
            }
        }

        foreach (var node in record.Nodes)
        {
            record = record.WithPid(node.Id, null);
        }

        LocalClusterRecord.Save(dir, record);
        stdout.WriteLine($"local cluster in {dir} is down; its data stays there (`kvctl local up --dir {dir}` starts it again)");
        return ExitCodes.Ok;
    }

    public static int Status(LocalOptions options, TextWriter stdout, TextWriter stderr)
    {
        if (!TryResolveExisting(options, stderr, out var dir, out var record))
        {
            return ExitCodes.Failed;
        }

        if (record is null)
        {
            stderr.WriteLine($"no local cluster in {dir}: run `kvctl local up` (or pass the --dir it was started with)");
            return ExitCodes.Unavailable;
        }

        var doc = Describe(dir, record);
        Write(stdout, options.Output, doc);
        return doc.Running ? ExitCodes.Ok : ExitCodes.Unavailable;
    }

    /// <summary>
    /// kv-node's command line for a node of the record. Every node gets the label
    /// <c>host=nodeN</c> (<see cref="DefaultLabels"/>): the nodes share one machine, but each
    /// stands for a host of its own, so placement rules that keep a range's voters on distinct
    /// hosts can place 3 replicas on any 3 nodes. No zone label: one shared zone would be a single
    /// failure domain holding every voter.
    /// </summary>
    internal static IReadOnlyList<string> NodeArguments(LocalClusterRecord record, string dir, LocalNodeRecord node)
    {
        var address = LocalClusterRecord.Address(node.Port);
        List<string> arguments = ["serve", "--data-dir", LocalClusterRecord.DataDir(dir, node.Id), "--listen", address, "--advertise", address, "--join", record.JoinList(), "--labels", DefaultLabels(node.Id)];
        if (record.Secure)
        {
            // Every local node shares one node certificate: they all answer on 127.0.0.1.
            var certs = LocalClusterRecord.CertDir(dir);
            arguments.AddRange(["--tls-cert", LocalCertificates.NodeCertificate(certs), "--tls-key", LocalCertificates.NodeKey(certs), "--tls-client-ca", LocalCertificates.Ca(certs)]);
        }

        return arguments;
    }

    /// <summary>The labels of local node <paramref name="id"/>: <c>host=node{id}</c>.</summary>
    internal static string DefaultLabels(int id) => "host=node" + id.ToString(CultureInfo.InvariantCulture);

    internal static LocalClusterDocument Describe(string dir, LocalClusterRecord record)
    {
        var members = LocalClusterRecord.PlacementMemberCount(record.Nodes.Count);
        var nodes = record.Nodes.Select(node =>
        {
            var dataDir = LocalClusterRecord.DataDir(dir, node.Id);
            var alive = LocalProcesses.IsNode(node.Pid, dataDir);
            return new LocalNodeDocument(node.Id, LocalClusterRecord.Address(node.Port), alive ? node.Pid : null, alive, node.Id <= members, dataDir, LocalClusterRecord.LogPath(dir, node.Id));
        }).ToList();
        return new LocalClusterDocument(LocalClusterRecord.CurrentApiVersion, "LocalClusterStatus", dir, nodes.All(n => n.Alive), record.Endpoints(), nodes);
    }

    private static void Write(TextWriter stdout, OutputFormat format, LocalClusterDocument doc)
    {
        if (format != OutputFormat.Table)
        {
            OutputWriter.WriteDocument(stdout, format, doc);
            return;
        }

        OutputWriter.WriteTable(stdout, ["NODE", "ADDRESS", "PID", "ALIVE", "PLACEMENT", "DATA", "LOG"],
            [.. doc.Nodes.Select(n => (IReadOnlyList<string>)
            [
                n.Id.ToString(CultureInfo.InvariantCulture),
                n.Address,
                n.Pid?.ToString(CultureInfo.InvariantCulture) ?? "-",
                n.Alive ? "yes" : "no",
                n.PlacementMember ? "member" : "-",
                n.DataDir,
                n.Log,
            ])]);
    }

    /// <summary>
    /// The cluster directory for down and status: --dir when given; else ./.kv/local when it holds
    /// a cluster; else the directory the kvctl context names (the last up); else ./.kv/local.
    /// </summary>
    private static bool TryResolveExisting(LocalOptions options, TextWriter stderr, out string dir, out LocalClusterRecord? record)
    {
        dir = Path.GetFullPath(options.Dir ?? DefaultDir, options.WorkingDirectory);
        record = null;
        try
        {
            if (options.Dir is null && !File.Exists(LocalClusterRecord.PathIn(dir))
                && KvctlContext.Load(options.ContextPath ?? KvctlContext.DefaultPath) is { LocalDir: { } fromContext }
                && File.Exists(LocalClusterRecord.PathIn(fromContext)))
            {
                dir = fromContext;
            }

            record = LocalClusterRecord.Load(dir);
            return true;
        }
        catch (InvalidDataException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return false;
        }
    }

    private static List<string> Tail(string path, int lines)
    {
        try
        {
            return [.. File.ReadLines(path).TakeLast(lines)];
        }
        catch (IOException e)
        {
            return [$"(could not read it: {e.Message})"];
        }
    }
}
