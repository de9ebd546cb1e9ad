using System.Management.Automation;

namespace Kv.PowerShell.Connection;

/// <summary>
/// <c>Connect-KvCluster</c> (kvctl's context, or --endpoint): checks that the cluster at -Endpoint
/// answers (it lists the stores through the placement leader), then makes it this session's
/// default connection, replacing (and closing) any earlier one, and writes it. A cluster that
/// does not answer is refused (ResourceUnavailable) and the earlier connection stays.
/// </summary>
[Cmdlet(VerbsCommunications.Connect, "KvCluster")]
[OutputType(typeof(KvConnection))]
public sealed class ConnectKvClusterCommand : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>host:port of one or more nodes (a list or comma-separated); the client finds the placement leader from any of them.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string[] Endpoint { get; set; } = [];

    /// <summary>The CA certificate (PEM or DER) the nodes' certificates chain to: dial TLS and trust only that CA.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CaCertificate { get; set; }

    /// <summary>With -CaCertificate: the client certificate (PEM) for a secure cluster; its role (admin or client) decides what the session may do.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ClientCertificate { get; set; }

    /// <summary>The private key (PEM) of -ClientCertificate.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ClientKey { get; set; }

    public void Dispose()
    {
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    protected override void ProcessRecord()
    {
        KvConnection connection;
        try
        {
            connection = KvConnection.Open(Endpoint, CaCertificate is null ? null : GetUnresolvedProviderPathFromPSPath(CaCertificate),
                ClientCertificate is null ? null : GetUnresolvedProviderPathFromPSPath(ClientCertificate), ClientKey is null ? null : GetUnresolvedProviderPathFromPSPath(ClientKey));
        }
        catch (Exception e) when (e is not RuntimeException)
        {
            ThrowTerminatingError(KvErrors.From(e, string.Join(",", Endpoint)));
            return;
        }

        try
        {
            _ = connection.Admin.ListStoreStatusAsync(_stopping.Token).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not RuntimeException)
        {
            connection.Dispose();
            if (e is OperationCanceledException && _stopping.IsCancellationRequested)
            {
                throw new PipelineStoppedException();
            }

            ThrowTerminatingError(KvErrors.From(e, string.Join(",", Endpoint)));
            return;
        }

        KvSession.Replace(connection)?.Dispose();
        WriteObject(connection);
    }

    protected override void StopProcessing() => _stopping.Cancel();
}

/// <summary><c>Disconnect-KvCluster</c>: closes this session's default connection; -PassThru writes the one closed. Without one it does nothing.</summary>
[Cmdlet(VerbsCommunications.Disconnect, "KvCluster")]
[OutputType(typeof(KvConnection))]
public sealed class DisconnectKvClusterCommand : PSCmdlet
{
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var previous = KvSession.Replace(null);
        if (previous is null)
        {
            WriteVerbose("not connected; nothing to close");
            return;
        }

        previous.Dispose();
        if (PassThru)
        {
            WriteObject(previous);
        }
    }
}
