using System.CommandLine;
using Kv.Cli.Context;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Security;
using Kv.Client.Transport;

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
    internal sealed record Options(Option<string?> Endpoint, Option<string?> Context, Option<double> Timeout, Option<string?> Ca, Option<string?> Cert, Option<string?> Key)
    {
        public Target Read(ParseResult parse) =>
            new(parse.GetValue(Endpoint), parse.GetValue(Context), parse.GetValue(Timeout), parse.InvocationConfiguration.Error)
            {
                Ca = parse.GetValue(Ca),
                Cert = parse.GetValue(Cert),
                Key = parse.GetValue(Key),
            };
    }

    /// <summary>Where and how one invocation connects, and where its errors go.</summary>
    internal sealed record Target(string? Endpoint, string? ContextPath, double TimeoutSeconds, TextWriter Stderr)
    {
        /// <summary>--ca: the CA certificate file; overrides the context's.</summary>
        public string? Ca { get; init; }

        /// <summary>--cert: the client certificate file; overrides the context's.</summary>
        public string? Cert { get; init; }

        /// <summary>--key: the client certificate's key file.</summary>
        public string? Key { get; init; }
    }

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
        var ca = new Option<string?>("--ca") { Description = "CA certificate (PEM) of a secure cluster: dial TLS and trust only it; overrides the kvctl context" };
        var cert = new Option<string?>("--cert") { Description = "Client certificate (PEM, role admin or client) for a secure cluster; with --key" };
        var key = new Option<string?>("--key") { Description = "Private key (PEM) of --cert" };
        command.Options.Add(endpoint);
        command.Options.Add(context);
        command.Options.Add(timeout);
        command.Options.Add(ca);
        command.Options.Add(cert);
        command.Options.Add(key);
        return new Options(endpoint, context, timeout, ca, cert, key);
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

        KvChannelOptions? channel;
        try
        {
            channel = ResolveTls(target);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or KvCertificateException)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Usage;
        }

        var options = new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(target.TimeoutSeconds), Channel = channel };
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

    /// <summary>
    /// The TLS settings of one invocation: --ca/--cert/--key when any is given (then the context's
    /// are ignored, so a flag never mixes with a file from elsewhere), else the context's; null
    /// (cleartext) when neither names a CA or certificate.
    /// </summary>
    internal static KvChannelOptions? ResolveTls(Target target)
    {
        string? ca = target.Ca, cert = target.Cert, key = target.Key;
        if (ca is null && cert is null && key is null
            && KvctlContext.Load(target.ContextPath ?? KvctlContext.DefaultPath) is { } context)
        {
            (ca, cert, key) = (context.CaCertificate, context.ClientCertificate, context.ClientKey);
        }

        if ((cert is null) != (key is null))
        {
            throw new ArgumentException($"{(cert is null ? "--key" : "--cert")} is given without {(cert is null ? "--cert" : "--key")}: a client certificate needs both its certificate and its key file");
        }

        if (ca is null && cert is null)
        {
            return null;
        }

        if (ca is null)
        {
            throw new ArgumentException("--cert needs --ca too: the CA certificate the nodes' certificates chain to (kvctl trusts only that CA, never the system store)");
        }

        return cert is null ? new KvChannelOptions { TrustedRoot = KvCertificates.LoadCertificate(ca) } : KvChannelOptions.MutualTls(ca, cert, key!);
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
