using System.Diagnostics;
using Xunit.Abstractions;

namespace Kv.System.Tests.Cluster;

/// <summary>Runs the built kvctl (<c>dotnet kvctl.dll</c>, next to kv-node.dll in the tests' output) as a real process.</summary>
public static class KvctlProcess
{
    /// <summary>Runs kvctl with args and KVCTL_CONTEXT set to contextPath; logs the command and its output; fails after 180 s.</summary>
    public static (int Code, string Stdout, string Stderr) Run(ITestOutputHelper output, string contextPath, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "kvctl.dll"));
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["KVCTL_CONTEXT"] = contextPath;
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromSeconds(180)))
        {
            process.Kill();
            throw new TimeoutException($"kvctl {string.Join(' ', args)} did not finish in 180 s");
        }

        output.WriteLine($"$ kvctl {string.Join(' ', args)} -> exit {process.ExitCode}\n{stdout}{stderr.Result}");
        return (process.ExitCode, stdout, stderr.Result);
    }
}
