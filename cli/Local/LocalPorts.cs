using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kv.Cli.Local;

/// <summary>Loopback ports for a local cluster: picking free ones, checking one is free, and naming who holds one.</summary>
internal static class LocalPorts
{
    /// <summary>
    /// n distinct ports free on 127.0.0.1 now, drawn at random from just below the kernel's
    /// ephemeral range. Not from the ephemeral range itself: a cluster's ports are kept and reused
    /// by every later <c>up</c> (and by a node restarted after a crash), and a port in that range
    /// can meanwhile be taken as the local end of any outgoing connection on the machine. Another
    /// process may still take one before the node binds it; the node then fails to start and
    /// <c>up</c> names the port.
    /// </summary>
    public static IReadOnlyList<int> PickFree(int n)
    {
        var (low, high) = ListenRange();
        var sockets = new List<Socket>(n);
        try
        {
            // All held open at once, so no port is picked twice.
            for (var attempts = 0; sockets.Count < n; attempts++)
            {
                if (attempts > 1000)
                {
                    throw new InvalidOperationException($"no {n} free loopback ports found in {low}-{high - 1}");
                }

                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
#pragma warning disable CA5394 // port choice, not security
                    socket.Bind(new IPEndPoint(IPAddress.Loopback, Random.Shared.Next(low, high)));
#pragma warning restore CA5394
                    sockets.Add(socket);
                }
                catch (SocketException)
                {
                    socket.Dispose();
                }
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

    /// <summary>[low, high): up to 12,000 ports below the ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range), not below 10,000.</summary>
    internal static (int Low, int High) ListenRange()
    {
        var ephemeralLow = 32768;
        try
        {
            var text = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (text.Length > 0 && int.TryParse(text[0], NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed > 11_000)
            {
                ephemeralLow = parsed;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return (Math.Max(10_000, ephemeralLow - 12_000), ephemeralLow);
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
