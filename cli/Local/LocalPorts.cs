using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kv.Cli.Local;

/// <summary>Loopback ports for a local cluster: picking free ones, checking one is free, and naming who holds one.</summary>
internal static class LocalPorts
{
    /// <summary>
    /// n distinct ports the OS reports free on 127.0.0.1 now (bound to port 0, then released).
    /// Another process may take one before the node binds it; the node then fails to start and
    /// <c>up</c> names the port.
    /// </summary>
    public static IReadOnlyList<int> PickFree(int n)
    {
        var sockets = new List<Socket>(n);
        try
        {
            // All held open at once, so the OS cannot hand out the same port twice.
            for (var i = 0; i < n; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            }

            return [.. sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port)];
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>Whether a listener could bind 127.0.0.1:port now.</summary>
    public static bool IsFree(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// "pid P (command line)" of the process listening on the port, best effort from
    /// /proc/net/tcp and /proc/*/fd (Linux; other processes' fds need the same user or root);
    /// null when it cannot be told.
    /// </summary>
    public static string? DescribeListener(int port)
    {
        try
        {
            var inodes = ListeningInodes(port);
            if (inodes.Count == 0)
            {
                return null;
            }

            foreach (var proc in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(proc), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                {
                    continue;
                }

                try
                {
                    foreach (var fd in Directory.EnumerateFiles(Path.Combine(proc, "fd")))
                    {
                        var target = new FileInfo(fd).LinkTarget;
                        if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal) && inodes.Contains(target[8..^1]))
                        {
                            return $"pid {pid} ({LocalProcesses.CommandLine(pid) ?? "command line unknown"})";
                        }
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // the process exited, or is not ours to inspect
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // no /proc: not Linux
        }

        return null;
    }

    /// <summary>Socket inodes listening on the port (state 0A) in /proc/net/tcp and tcp6.</summary>
    private static HashSet<string> ListeningInodes(int port)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        var hexPort = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (var line in File.ReadLines(table).Skip(1))
            {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 9 && fields[1].EndsWith(hexPort, StringComparison.Ordinal) && fields[3] == "0A")
                {
                    inodes.Add(fields[9]);
                }
            }
        }

        return inodes;
    }
}
