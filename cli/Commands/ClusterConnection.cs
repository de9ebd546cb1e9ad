using System.CommandLine;
using Kv.Cli.Context;
using Kv.Client.Administration;
using Kv.Client.Cluster;

namespace Kv.Cli.Commands;

/// <summary>
/// What every command that talks to a cluster shares: the <c>--endpoint</c> and <c>--context</c>
/// options, resolving where to connect (the flag, else the context file), and turning the
/// client's typed errors into kvctl's exit codes and messages:
/// Unavailable 5, NotFound 4, InvalidArgument (the server refused an argument, e.g. a key too
/// large) 2, WriteConflict / TxnAborted / KeyIsLocked / BelowGcSafePoint (retry the transaction) 6,
/// Conflict (an operation id reused with other content) 6, Refused (a preflight or state refusal) 3,
/// CommitOutcomeUnknown (never retried) 7, NotBootstrapped / ClusterIdMismatch / Internal 1,
/// cancelled (Ctrl+C) 130.
/// </summary>
internal static class ClusterConnection
{
    public const string NoCluster = "no cluster: run `kvctl local up` or pass --endpoint host:port";

    /// <summary>The connection options of one command.</summary>
    internal sealed record Options(Option<string?> Endpoint, Option<string?> Context, Option<double> Timeout)
    {
        public Target Read(ParseResult parse) =>
            new(parse.GetValue(Endpoint), parse.GetValue(Context), parse.GetValue(Timeout), parse.InvocationConfiguration.Error);
    }

    /// <summary>Where and how one invocation connects, and where its errors go.</summary>
    internal sealed record Target(string? Endpoint, string? ContextPath, double TimeoutSeconds, TextWriter Stderr);

    public static Options AddTo(Command command)
    {
        var endpoint = new Option<string?>("--endpoint")
        {
            Description = "host:port of a node (comma-separated for several); overrides the kvctl context",
        };
        var context = new Option<string?>("--context")
        {
            Description = "The kvctl context file (default $KVCTL_CONTEXT, else ~/.kv/kvctl-context.json)",
        };
        var timeout = new Option<double>("--timeout")
        {
            Description = "Seconds one request may take, retries included",
            DefaultValueFactory = _ => 10,
        };
        command.Options.Add(endpoint);
        command.Options.Add(context);
        command.Options.Add(timeout);
        return new Options(endpoint, context, timeout);
    }

    /// <summary>Connects as the target says and runs body; maps every failure to an exit code and a message on stderr.</summary>
    public static Task<int> RunAsync(Target target, Func<KvClient, Task<int>> body) =>
        RunCoreAsync(target, (data, _) => body(data()));

    /// <summary>As RunAsync, with the admin client (operations, stores, scheduler, audit, settings).</summary>
    public static Task<int> RunAdminAsync(Target target, Func<KvAdminClient, Task<int>> body) =>
        RunCoreAsync(target, (_, admin) => body(admin()));

    /// <summary>As RunAsync, with both clients (a verb that reads the range directory, then submits an operation).</summary>
    public static Task<int> RunBothAsync(Target target, Func<KvClient, KvAdminClient, Task<int>> body) =>
        RunCoreAsync(target, (data, admin) => body(data(), admin()));

    // The clients are made on first use, so a command connects only what it calls.
    private static async Task<int> RunCoreAsync(Target target, Func<Func<KvClient>, Func<KvAdminClient>, Task<int>> body)
    {
        var stderr = target.Stderr;
        if (!(target.TimeoutSeconds > 0 && target.TimeoutSeconds <= 24 * 3600))
        {
            stderr.WriteLine($"error: --timeout must be a number of seconds between 0 and 86400, not {target.TimeoutSeconds}");
            return ExitCodes.Usage;
        }

        IReadOnlyList<string>? endpoints;
        try
        {
            endpoints = KvctlContext.ResolveEndpoints(target.Endpoint, target.ContextPath);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }

        if (endpoints is null || endpoints.Count == 0)
        {
            stderr.WriteLine($"error: {NoCluster}");
            return ExitCodes.Unavailable;
        }

        var options = new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(target.TimeoutSeconds) };
        KvClient? data = null;
        KvAdminClient? admin = null;
        try
        {
            // Both check the endpoints the same way; fail here, before any command output.
            data = KvClient.Connect(endpoints, options);
            admin = KvAdminClient.Connect(endpoints, options);
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            if (data is not null)
            {
                await data.DisposeAsync().ConfigureAwait(false);
            }

            return ExitCodes.Usage;
        }

        await using (data.ConfigureAwait(false))
        await using (admin.ConfigureAwait(false))
        {
            try
            {
                return await body(() => data, () => admin).ConfigureAwait(false);
            }
            catch (KvException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return ExitCodeOf(e.Kind);
            }
            catch (OperationCanceledException)
            {
                stderr.WriteLine("interrupted");
                return ExitCodes.Interrupted;
            }
        }
    }

    public static int ExitCodeOf(KvErrorKind kind) => kind switch
    {
        KvErrorKind.Unavailable => ExitCodes.Unavailable,
        KvErrorKind.NotFound => ExitCodes.NotFound,
        KvErrorKind.InvalidArgument => ExitCodes.Usage,
        KvErrorKind.Refused => ExitCodes.RefusedUnsafe,
        KvErrorKind.WriteConflict or KvErrorKind.TxnAborted or KvErrorKind.KeyIsLocked or KvErrorKind.Conflict or KvErrorKind.BelowGcSafePoint => ExitCodes.Conflict,
        KvErrorKind.CommitOutcomeUnknown => ExitCodes.OutcomeUnknown,
        _ => ExitCodes.Failed,
    };
}
