using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Security;
using Kv.Client.Transport;

namespace Kv.PowerShell.Connection;

/// <summary>
/// A connection to one cluster: the endpoints, the CA the nodes' certificates chain to (null:
/// cleartext), and the clients made over them. Connect-KvCluster keeps one per runspace as the
/// session's default; a cmdlet given -Endpoint makes its own and disposes it when it ends.
/// The admin client is made at once (it does no I/O); the data client only when a cmdlet reads
/// the range directory (Get-KvRange, Split-KvRange by key).
/// </summary>
public sealed class KvConnection : IDisposable
{
    private readonly KvClientOptions _options;
    private readonly X509Certificate2? _caCertificate;
    private KvClient? _data;

    private KvConnection(IReadOnlyList<string> endpoints, string? caCertificatePath, X509Certificate2? caCertificate, KvClientOptions options, KvAdminClient admin)
    {
        Endpoints = endpoints;
        CaCertificate = caCertificatePath;
        _caCertificate = caCertificate;
        _options = options;
        Admin = admin;
    }

    /// <summary>The endpoints as the client normalized them (host:port, duplicates dropped).</summary>
    public IReadOnlyList<string> Endpoints { get; }

    /// <summary>The full path of the CA certificate file, or null for cleartext.</summary>
    public string? CaCertificate { get; }

    /// <summary>Who the audit log records for changes made through this connection (the OS user).</summary>
    public string Who => Admin.Who;

    /// <summary>The placement leader as last learned, or null before the first call.</summary>
    public string? PlacementLeader => Admin.PlacementLeader;

    internal KvAdminClient Admin { get; }

    /// <summary>
    /// Opens a connection (no I/O). Throws ArgumentException for a malformed endpoint, and
    /// FileNotFoundException / CryptographicException for a CA file that is missing or not a certificate.
    /// </summary>
    internal static KvConnection Open(IReadOnlyList<string> endpoints, string? caCertificatePath, string? clientCertificatePath = null, string? clientKeyPath = null)
    {
        if ((clientCertificatePath is null) != (clientKeyPath is null))
        {
            throw new ArgumentException(clientCertificatePath is null
                ? "-ClientKey is given without -ClientCertificate: pass both, the certificate (PEM) and its private key (PEM)"
                : "-ClientCertificate is given without -ClientKey: pass both, the certificate (PEM) and its private key (PEM)");
        }

        if (clientCertificatePath is not null && string.IsNullOrWhiteSpace(caCertificatePath))
        {
            throw new ArgumentException("-ClientCertificate needs -CaCertificate too: the CA the nodes' certificates chain to (only that CA is trusted)");
        }

        var parts = Split(endpoints);
        X509Certificate2? ca = null;
        string? fullPath = null;
        if (!string.IsNullOrWhiteSpace(caCertificatePath))
        {
            fullPath = Path.GetFullPath(caCertificatePath);
            if (!File.Exists(fullPath))
            {
                throw new FileNotFoundException($"the CA certificate '{fullPath}' does not exist; pass the PEM or DER file of the CA that signed the nodes' certificates", fullPath);
            }

            ca = X509CertificateLoader.LoadCertificateFromFile(fullPath);
        }

        X509Certificate2? client = null;
        if (clientCertificatePath is not null)
        {
            try
            {
                client = KvCertificates.LoadWithKey(Path.GetFullPath(clientCertificatePath), Path.GetFullPath(clientKeyPath!));
            }
            catch (KvCertificateException e)
            {
                ca?.Dispose();
                throw new CryptographicException(e.Message, e);
            }
        }

        var options = new KvClientOptions { Channel = ca is null ? null : new KvChannelOptions { TrustedRoot = ca, ClientCertificate = client } };
        try
        {
            var admin = KvAdminClient.Connect(parts, options);
            return new KvConnection(admin.Endpoints, fullPath, ca, options, admin);
        }
        catch
        {
            ca?.Dispose();
            throw;
        }
    }

    /// <summary>The data client over the same endpoints, made on first use.</summary>
    internal KvClient Data => _data ??= KvClient.Connect(Endpoints, _options);

    public void Dispose()
    {
        Admin.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _data?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _caCertificate?.Dispose();
    }

    public override string ToString() => string.Join(",", Endpoints);

    /// <summary>"a:1,b:2" and @("a:1", "b:2") both name two endpoints; blanks are dropped.</summary>
    private static List<string> Split(IReadOnlyList<string> endpoints)
    {
        var parts = endpoints.SelectMany(e => (e ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        if (parts.Count == 0)
        {
            throw new ArgumentException("no endpoint given: pass -Endpoint host:port (several as a list or comma-separated)", nameof(endpoints));
        }

        return parts;
    }
}

/// <summary>
/// The default connection of each runspace (Connect-KvCluster sets it, Disconnect-KvCluster clears
/// it). Keyed by the runspace a cmdlet runs in, so two runspaces in one process (runbook workers,
/// tests) never share one; a runspace that is collected drops its entry.
/// </summary>
internal static class KvSession
{
    private static readonly ConditionalWeakTable<Runspace, KvConnection> Defaults = new();

    // Used only when a cmdlet runs without a default runspace on its thread (not seen in practice).
    private static KvConnection? _withoutRunspace;

    public static KvConnection? Current
    {
        get
        {
            var runspace = Runspace.DefaultRunspace;
            if (runspace is null)
            {
                return _withoutRunspace;
            }

            return Defaults.TryGetValue(runspace, out var connection) ? connection : null;
        }
    }

    /// <summary>Makes connection the default (null: none) and returns the one it replaced, for the caller to dispose.</summary>
    public static KvConnection? Replace(KvConnection? connection)
    {
        var previous = Current;
        var runspace = Runspace.DefaultRunspace;
        if (runspace is null)
        {
            _withoutRunspace = connection;
        }
        else if (connection is null)
        {
            Defaults.Remove(runspace);
        }
        else
        {
            Defaults.AddOrUpdate(runspace, connection);
        }

        return previous;
    }
}
