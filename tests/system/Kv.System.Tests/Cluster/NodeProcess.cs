using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Kv.System.Tests.Cluster;

/// <summary>
/// One real kv-node process (<c>dotnet kv-node.dll serve ...</c>, built by this project's
/// ProjectReference to node), its output appended to a log file and kept in memory for
/// assertions. Kill is SIGKILL; Stop is SIGTERM, then SIGKILL at a deadline.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StreamWriter _log;
    private readonly Task _pumps;
    private bool _disposed;

    private NodeProcess(Process process, string logPath)
    {
        _process = process;
        _log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        _pumps = Task.WhenAll(PumpAsync(process.StandardOutput), PumpAsync(process.StandardError));
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>What the node printed so far (stdout and stderr interleaved by line).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static string NodeDll => Path.Combine(AppContext.BaseDirectory, "kv-node.dll");

    public static NodeProcess Start(IReadOnlyList<string> arguments, string logPath)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(NodeDll);
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        File.AppendAllText(logPath, $"---- start: kv-node {string.Join(' ', arguments)}{Environment.NewLine}");
        return new NodeProcess(Process.Start(info) ?? throw new InvalidOperationException("could not start kv-node"), logPath);
    }

    /// <summary>kill -9, then waits for the process and its output to end.</summary>
    public async Task KillAsync()
    {
        var killed = false;
        if (!_process.HasExited)
        {
            _process.Kill(); // SIGKILL on Linux
            killed = true;
        }

        await _process.WaitForExitAsync();
        await _pumps;
        lock (_output)
        {
            _log.WriteLine(killed ? "---- killed (SIGKILL)" : $"---- exited ({_process.ExitCode})");
        }
    }

    /// <summary>SIGTERM (a clean shutdown); SIGKILL if it has not exited by the deadline. Returns the exit code, null when it had to be killed.</summary>
    public async Task<int?> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            await KillAsync();
            return null;
        }

        await _pumps;
        return _process.ExitCode;
    }

    /// <summary>Waits for the process to exit by itself; false at the deadline.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            await _pumps;
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await KillAsync();
        _process.Dispose();
        await _log.DisposeAsync();
    }

    private async Task PumpAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_output)
            {
                _output.AppendLine(line);
                _log.WriteLine(line);
            }
        }
    }
}
