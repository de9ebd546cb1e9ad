using System.Management.Automation;
using Kv.Client.Administration;

namespace Kv.PowerShell.Connection;

/// <summary>
/// What every cmdlet that talks to a cluster shares:
/// 1. -Endpoint (and -CaCertificate) name the cluster for this call alone; without them the
///    session's connection (Connect-KvCluster) is used; with neither the cmdlet fails (NotConnected).
/// 2. ProcessRecord runs <see cref="Process"/>; any failure becomes a terminating ErrorRecord
///    (KvErrors: the API's code, message and a fitting category), never a raw stack trace.
/// 3. Async client calls run to completion on the pipeline thread (<see cref="Await{T}(Task{T})"/>),
///    so Write-* is only ever called there; Ctrl+C (StopProcessing) cancels the call in flight.
/// 4. A connection made for -Endpoint is disposed when the cmdlet is.
/// </summary>
public abstract class KvCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private KvConnection? _own;

    /// <summary>host:port of one or more nodes (a list or comma-separated); overrides the session's connection for this call.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Endpoint { get; set; }

    /// <summary>With -Endpoint: the CA certificate (PEM or DER) the nodes' certificates chain to; dials TLS.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CaCertificate { get; set; }

    /// <summary>With -Endpoint and -CaCertificate: the client certificate (PEM) for a secure cluster.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ClientCertificate { get; set; }

    /// <summary>The private key (PEM) of -ClientCertificate.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ClientKey { get; set; }

    /// <summary>Cancelled when the user presses Ctrl+C (StopProcessing).</summary>
    protected CancellationToken StopToken => _stopping.Token;

    /// <summary>The connection this call uses (made on first use; see the class contract, step 1).</summary>
    internal KvConnection Connection
    {
        get
        {
            if (_own is not null)
            {
                return _own;
            }

            if (Endpoint is { Length: > 0 })
            {
                // A relative path is relative to PowerShell's location, not the process's directory.
                return _own = KvConnection.Open(Endpoint, CaCertificate is null ? null : GetUnresolvedProviderPathFromPSPath(CaCertificate),
                    ClientCertificate is null ? null : GetUnresolvedProviderPathFromPSPath(ClientCertificate), ClientKey is null ? null : GetUnresolvedProviderPathFromPSPath(ClientKey));
            }

            if (CaCertificate is not null || ClientCertificate is not null || ClientKey is not null)
            {
                throw new PSArgumentException("-CaCertificate, -ClientCertificate and -ClientKey go with -Endpoint; to use TLS for the session, run Connect-KvCluster -Endpoint host:port -CaCertificate path [-ClientCertificate path -ClientKey path]");
            }

            return KvSession.Current ?? throw new NotConnectedException();
        }
    }

    internal KvAdminClient Admin => Connection.Admin;

    public void Dispose()
    {
        _own?.Dispose();
        _own = null;
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    protected sealed override void ProcessRecord()
    {
        try
        {
            Process();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Ctrl+C: PowerShell is stopping the pipeline; it reports that itself.
            throw new PipelineStoppedException();
        }
        catch (NotConnectedException)
        {
            ThrowTerminatingError(KvErrors.NotConnected());
        }
        catch (Exception e) when (e is not RuntimeException and not HaltCommandException)
        {
            // RuntimeException is PowerShell's own (ThrowTerminatingError, a stopped pipeline,
            // -ErrorAction Stop): it already carries its record and passes through.
            ThrowTerminatingError(KvErrors.From(e, Target));
        }
    }

    protected override void StopProcessing() => _stopping.Cancel();

    /// <summary>The cmdlet's work for one input record.</summary>
    protected abstract void Process();

    /// <summary>What the error records of this record name as their target (the id the user gave).</summary>
    protected virtual object? Target => null;

    /// <summary>Refuses -Force without -Reason before any call (PermissionDenied).</summary>
    protected void RequireReasonForForce(bool force, string? reason, string what)
    {
        if (force && string.IsNullOrWhiteSpace(reason))
        {
            ThrowTerminatingError(KvErrors.ForceNeedsReason(what, Target));
        }
    }

    /// <summary>True when -WhatIf was given, or $WhatIfPreference is set in the caller's scope.</summary>
    protected bool WhatIfRequested =>
        (MyInvocation.BoundParameters.TryGetValue("WhatIf", out var whatIf) && whatIf is SwitchParameter { IsPresent: true })
        || LanguagePrimitives.IsTrue(SessionState.PSVariable.GetValue("WhatIfPreference"));

    protected static T Await<T>(Task<T> task) => task.GetAwaiter().GetResult();

    protected static void Await(Task task) => task.GetAwaiter().GetResult();

    /// <summary>Thrown by <see cref="Connection"/> when there is none; ProcessRecord reports it.</summary>
    private sealed class NotConnectedException : Exception
    {
    }
}
