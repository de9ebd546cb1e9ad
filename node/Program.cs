using System.Collections;
using System.Runtime.InteropServices;
using Kv.Client;
using Kv.Node.Server.Configuration;
using Kv.Node.Server.Hosting;
using Kv.Node.Storage.Tools;
using Microsoft.Extensions.Logging;

// kv-node's command line: `serve` runs a node; the rest are tools operators use to check a machine.
switch (args)
{
    case ["--version"] or ["version"]:
        Console.WriteLine($"kv-node {BuildVersion.Version}");
        return 0;
    case ["storage", "check", "--data-dir", var dir]:
        return StorageCheck.Run(dir, Console.Out, Console.Error);
    case ["serve", "--help"] or ["serve", "-h"]:
        Console.WriteLine(NodeConfigLoader.Usage);
        return 0;
    case ["serve", .. var rest]:
        return await ServeAsync(rest).ConfigureAwait(false);
    default:
        Console.Error.WriteLine($"""
            usage:
              kv-node serve --data-dir DIR --join HOST:PORT[,...] [options]   run a node (kv-node serve --help for options)
              kv-node version
              kv-node storage check --data-dir DIR   write, sync, reopen and read back a probe data set in DIR
                                                     (an empty directory, or one an earlier check made)
            """);
        return 2;
}

static async Task<int> ServeAsync(string[] args)
{
    NodeConfig config;
    try
    {
        var environment = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
        config = NodeConfigLoader.Load(args, environment);
    }
    catch (NodeConfigException e)
    {
        Console.Error.WriteLine($"kv-node: {e.Message}");
        return 2;
    }

    using var loggers = LoggerFactory.Create(b => b
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        })
        .SetMinimumLevel(LogLevel.Information)
        .AddFilter("Microsoft", LogLevel.Warning));
    using var stop = new CancellationTokenSource();
    using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
    {
        ctx.Cancel = true;
        stop.Cancel();
    });
    using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx =>
    {
        ctx.Cancel = true;
        stop.Cancel();
    });

    var host = new NodeHost(config, loggers);
    try
    {
        await host.StartAsync(stop.Token).ConfigureAwait(false);
        await Task.WhenAny(host.Stopped, Task.Delay(Timeout.Infinite, stop.Token)).ConfigureAwait(false);
    }
    catch (NodeConfigException e)
    {
        Console.Error.WriteLine($"kv-node: {e.Message}");
        await host.DisposeAsync().ConfigureAwait(false);
        return 2;
    }
    catch (OperationCanceledException) when (stop.IsCancellationRequested)
    {
    }
    catch (Kv.Node.Storage.StorageException e)
    {
        Console.Error.WriteLine($"kv-node: the data directory {config.DataDir} cannot be used: {e.Message}");
        await host.DisposeAsync().ConfigureAwait(false);
        return 1;
    }

    await host.DisposeAsync().ConfigureAwait(false);
    if (host.FatalReason is { } reason)
    {
        Console.Error.WriteLine($"kv-node: {reason}");
        return 1;
    }

    return 0;
}
