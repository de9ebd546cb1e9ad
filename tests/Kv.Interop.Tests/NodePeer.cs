using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;

namespace Kv.Interop.Tests;

/// <summary>
/// Runs the grpc-js scripts in tests/interop as real node processes. Output lines are
/// collected as they arrive so a test can wait for a line (with a deadline) instead of sleeping.
/// </summary>
internal sealed class NodePeer : IAsyncDisposable
{
    private static readonly Lazy<string> InteropDirectory = new(FindInteropDirectory);

    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Channel<string> _arrivals = Channel.CreateUnbounded<string>();
    private readonly System.Text.StringBuilder _stderr = new();

    private NodePeer(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lock (_lines)
                {
                    _lines.Add(line);
                }

                _arrivals.Writer.TryWrite(line);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lock (_stderr)
                {
                    _stderr.AppendLine(line);
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Starts <c>node script args</c> in tests/interop.</summary>
    public static NodePeer Start(string script, params string[] args)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = InteropDirectory.Value,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
        return new NodePeer(process);
    }

    /// <summary>Runs client.js for one scenario and returns the JSON it printed.</summary>
    public static Task<JsonElement> RunClientAsync(string target, string scenario, params string[] args) =>
        RunScriptAsync("client.js", target, scenario, args);

    /// <summary>Runs one scenario of a grpc-js client script and returns the JSON line it printed.</summary>
    public static async Task<JsonElement> RunScriptAsync(string script, string target, string scenario, params string[] args)
    {
        await using var peer = Start(script, [target, scenario, .. args]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await peer._process.WaitForExitAsync(timeout.Token);
        var output = await peer.WaitForLineAsync(l => l.StartsWith('{') || l.StartsWith('['), TimeSpan.FromSeconds(5));
        Assert.True(peer._process.ExitCode == 0, $"{script} {scenario} exited with {peer._process.ExitCode}: {peer.StandardError}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    /// <summary>The first line (already seen or still to come) that matches; throws after the timeout.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        lock (_lines)
        {
            var seen = _lines.Find(l => match(l));
            if (seen is not null)
            {
                return seen;
            }
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var line = await _arrivals.Reader.ReadAsync(cts.Token);
                if (match(line))
                {
                    return line;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"node printed no matching line within {timeout}; stderr: {StandardError}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token);
        }

        _process.Dispose();
    }

    /// <summary>
    /// tests/interop, found from the test binary's folder upwards. Its npm packages must be
    /// installed: ./kv.sh test does that (npm ci); a clear failure says so otherwise.
    /// </summary>
    private static string FindInteropDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ControlPlane.sln")))
            {
                var interop = Path.Combine(dir.FullName, "tests", "interop");
                if (!Directory.Exists(Path.Combine(interop, "node_modules", "@grpc", "grpc-js")))
                {
                    throw new InvalidOperationException($"@grpc/grpc-js is not installed in {interop}: run ./kv.sh test (it runs npm ci there) or 'npm ci' in that folder");
                }

                return interop;
            }
        }

        throw new InvalidOperationException($"no ControlPlane.sln above {AppContext.BaseDirectory}");
    }
}
