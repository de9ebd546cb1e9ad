using System.Diagnostics;
using System.Globalization;

namespace Kv.Cli.Local;

/// <summary>How to run kv-node: a program and the arguments that come before kv-node's own.</summary>
internal sealed record NodeLauncher(string FileName, IReadOnlyList<string> PrefixArguments, string Description);

/// <summary>
/// The kv-node processes of a local cluster: finding the binary, starting a node detached from
/// kvctl, telling whether a pid is still that node, and stopping it. Linux (procfs, signals via
/// kill(1), setsid(1)).
/// </summary>
internal static class LocalProcesses
{
    public const string NodeBinEnvironmentVariable = "KV_NODE_BIN";

    /// <summary>
    /// kv-node next to kvctl (<c>kv-node.dll</c>, run by the same dotnet host, or a <c>kv-node</c>
    /// executable), else <c>$KV_NODE_BIN</c> (a .dll or an executable). Null with the reason when
    /// neither exists.
    /// </summary>
    public static NodeLauncher? FindNode(string kvctlDirectory, string? nodeBinVariable, out string? problem)
    {
        problem = null;
        var dll = Path.Combine(kvctlDirectory, "kv-node.dll");
        if (File.Exists(dll))
        {
            return ForFile(dll);
        }

        var exe = Path.Combine(kvctlDirectory, "kv-node");
        if (File.Exists(exe))
        {
            return ForFile(exe);
        }

        if (!string.IsNullOrWhiteSpace(nodeBinVariable))
        {
            if (File.Exists(nodeBinVariable))
            {
                return ForFile(Path.GetFullPath(nodeBinVariable));
            }

            problem = $"${NodeBinEnvironmentVariable} is '{nodeBinVariable}', which does not exist; point it at kv-node (or kv-node.dll)";
            return null;
        }

        problem = $"kv-node was not found next to kvctl ({kvctlDirectory}) and ${NodeBinEnvironmentVariable} is not set; " +
            "build both into one directory (./kv.sh demo does: artifacts/bin/lib) or set KV_NODE_BIN to the kv-node binary";
        return null;
    }

    private static NodeLauncher ForFile(string path)
    {
        if (path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            // The dotnet host running kvctl, when kvctl runs under one; else the one on PATH.
            var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
            return new NodeLauncher(host, [path], $"{host} {path}");
        }

        return new NodeLauncher(path, [], path);
    }

    /// <summary>
    /// Starts a node in its own session (setsid), so it outlives kvctl and a Ctrl-C in kvctl's
    /// terminal does not reach it, with stdin from /dev/null and stdout and stderr appended to
    /// the log. Returns the pid: setsid(1) does not fork when its caller is not a process-group
    /// leader (kvctl's children are not), and sh execs kv-node, so the pid is kv-node's.
    /// </summary>
    public static int StartDetached(NodeLauncher launcher, IReadOnlyList<string> nodeArguments, string logPath)
    {
        var info = new ProcessStartInfo { UseShellExecute = false };
        var setsid = File.Exists("/usr/bin/setsid") ? "/usr/bin/setsid" : File.Exists("/bin/setsid") ? "/bin/setsid" : null;
        if (setsid is not null)
        {
            info.FileName = setsid;
            info.ArgumentList.Add("/bin/sh");
        }
        else
        {
            info.FileName = "/bin/sh";
        }

        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1");
        info.ArgumentList.Add("kv-node-launcher"); // $0
        info.ArgumentList.Add(logPath);
        info.ArgumentList.Add(launcher.FileName);
        foreach (var a in launcher.PrefixArguments)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var a in nodeArguments)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {launcher.Description}");
        return process.Id;
    }

    /// <summary>The command line of a live process, arguments separated by spaces; null when it is gone (or a zombie).</summary>
    public static string? CommandLine(int pid)
    {
        try
        {
            var raw = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
            return raw.Length == 0 ? null : raw.TrimEnd('\0').Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether pid is (still) the kv-node serving dataDir: alive, not a zombie, and its command line
    /// names kv-node and the data directory. A reused pid fails this, so it is never signalled.
    /// </summary>
    public static bool IsNode(int? pid, string dataDir)
    {
        if (pid is not { } p || IsZombieOrGone(p))
        {
            return false;
        }

        var commandLine = CommandLine(p);
        return commandLine is not null && IsNodeCommandLine(commandLine, dataDir);
    }

    /// <summary>
    /// Whether a node process started moments ago has exited: gone or a zombie, or alive as another
    /// program (its pid reused). A process whose command line reads empty is in the middle of an
    /// exec (setsid, then sh, then kv-node): still starting, not exited. <see cref="IsNode"/> would
    /// call it not a node, and a check landing in that window must not fail a starting cluster.
    /// </summary>
    public static bool HasExited(int? pid, string dataDir)
    {
        if (pid is not { } p || IsZombieOrGone(p))
        {
            return true;
        }

        var commandLine = CommandLine(p);
        return commandLine is not null && !IsNodeCommandLine(commandLine, dataDir);
    }

    /// <summary>The check behind <see cref="IsNode"/>, on a command line (arguments separated by spaces).</summary>
    internal static bool IsNodeCommandLine(string commandLine, string dataDir)
    {
        var args = commandLine.Split(' ');
        var namesNode = args.Any(a => Path.GetFileName(a) is "kv-node" or "kv-node.dll");
        var namesDir = false;
        for (var i = 0; i + 1 < args.Length; i++)
        {
            namesDir |= args[i] == "--data-dir" && args[i + 1] == dataDir;
        }

        return namesNode && namesDir;
    }

    private static bool IsZombieOrGone(int pid)
    {
        try
        {
            // "pid (comm) S ...": the state follows the last ')'.
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var close = stat.LastIndexOf(')');
            return close < 0 || close + 2 >= stat.Length || stat[close + 2] is 'Z' or 'X';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>Sends a signal with kill(1) ("TERM", "KILL"); false when it could not be sent (the process is gone).</summary>
    public static bool Signal(int pid, string signal)
    {
        var info = new ProcessStartInfo("kill") { UseShellExecute = false, RedirectStandardError = true };
        info.ArgumentList.Add("-" + signal);
        info.ArgumentList.Add(pid.ToString(CultureInfo.InvariantCulture));
        using var kill = Process.Start(info) ?? throw new InvalidOperationException("could not run kill(1)");
        kill.StandardError.ReadToEnd();
        kill.WaitForExit();
        return kill.ExitCode == 0;
    }

    /// <summary>Waits until the process is gone (or a zombie: exited, waiting for its parent); false at the deadline.</summary>
    public static async Task<bool> WaitForExitAsync(int pid, DateTime deadlineUtc, CancellationToken ct)
    {
        while (!IsZombieOrGone(pid))
        {
            if (DateTime.UtcNow >= deadlineUtc)
            {
                return false;
            }

            // Not our child (it was started by an earlier kvctl), so there is no exit event to wait on: poll.
            await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
        }

        return true;
    }
}
