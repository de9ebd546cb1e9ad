using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Net;
using System.Net.Sockets;
using Kv.Client;
using Kv.Client.Views;

namespace Kv.PowerShell.Tests;

/// <summary>
/// What the operation cmdlets refuse before any call, run in PowerShell 7.6 hosted in this process.
/// Each test points the cmdlet at a real TCP listener on 127.0.0.1 that counts the connections it
/// is offered, so "refused before any call" is checked, not assumed: the count must stay 0.
/// tests/pester runs the same cmdlets against a real cluster.
/// </summary>
public sealed class CmdletValidationTests : IDisposable
{
    private static readonly string Manifest = Path.Combine(AppContext.BaseDirectory, "KvControl.psd1");

    private readonly Runspace _runspace;
    private readonly TcpListener _listener;

    public CmdletValidationTests()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        _runspace.Open();
        Invoke($"Import-Module -Name '{Manifest}' -ErrorAction Stop");
    }

    private string Endpoint => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public void Dispose()
    {
        _runspace.Dispose();
        _listener.Stop();
        _listener.Dispose();
    }

    [Theory]
    [InlineData("Start-KvStoreDrain -StoreId 3 -Force")]
    [InlineData("Split-KvRange -RangeId 1 -Key m -Force")]
    [InlineData("Move-KvReplica -RangeId 1 -FromStoreId 2 -ToStoreId 3 -Force")]
    [InlineData("Add-KvReplica -RangeId 1 -StoreId 2 -Force")]
    [InlineData("Remove-KvReplica -RangeId 1 -StoreId 2 -Force")]
    [InlineData("Move-KvRangeLeader -RangeId 1 -StoreId 2 -Force")]
    [InlineData("Remove-KvStore -StoreId 3 -Force")]
    public void Force_without_Reason_is_refused_as_PermissionDenied_before_any_call(string command)
    {
        var error = Refused($"{command} -Endpoint {Endpoint}");

        Assert.Equal("ForceNeedsReason", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.PermissionDenied, error.CategoryInfo.Category);
        Assert.Contains("-Reason", error.Exception.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was sent", error.Exception.Message, StringComparison.Ordinal);
        AssertNoConnection();
    }

    [Theory]
    [InlineData("Start-KvStoreDrain -StoreId 3 -Id 'has space'", "InvalidOperationId")]
    [InlineData("Stop-KvOperation -Id 'bad/id'", "InvalidOperationId")]
    [InlineData("Wait-KvOperation -Id 'bad/id'", "InvalidOperationId")]
    [InlineData("Get-KvOperation -Id 'bad/id'", "InvalidOperationId")]
    [InlineData("Set-KvStoreMaintenance -StoreId 3 -Duration (New-TimeSpan -Days 8)", "InvalidDuration")]
    [InlineData("Set-KvStoreMaintenance -StoreId 3 -Duration (New-TimeSpan -Minutes -5)", "InvalidDuration")]
    [InlineData("Move-KvReplica -RangeId 1 -FromStoreId 2 -ToStoreId 2", "SameStore")]
    [InlineData("Split-KvRange -RangeId 1 -Key ''", "InvalidKey")]
    [InlineData("Split-KvRange -RangeId 1 -Key 0xzz -Hex", "InvalidKey")]
    [InlineData("Get-KvValue -Key ''", "InvalidKey")]
    [InlineData("Get-KvValue -Key 'ok', 0xzz -Hex", "InvalidKey")]
    [InlineData("Get-KvValue -StartKey 0xzz -Hex", "InvalidKey")]
    [InlineData("Set-KvValue -Key '' -Value v", "InvalidKey")]
    [InlineData("Set-KvValue -Key 6b -Value zz -Hex", "InvalidValue")]
    [InlineData("Remove-KvValue -Key '' -Force", "InvalidKey")]
    public void Bad_arguments_are_refused_as_InvalidArgument_with_what_to_do_before_any_call(string command, string errorId)
    {
        var error = Refused($"{command} -Endpoint {Endpoint}");

        Assert.Equal(errorId, error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        AssertNoConnection();
    }

    [Theory]
    [InlineData("Start-KvStoreDrain -StoreId 0")]
    [InlineData("Get-KvStore -StoreId 0")]
    [InlineData("Add-KvReplica -RangeId 0 -StoreId 1")]
    [InlineData("Get-KvOperation -State Sleeping")]
    [InlineData("Wait-KvOperation -Id op-1 -Timeout 0")]
    public void Parameter_validation_refuses_ids_of_zero_unknown_states_and_bad_timeouts(string command)
    {
        var error = Refused($"{command} -Endpoint {Endpoint}");

        Assert.StartsWith("ParameterArgumentValidationError", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        AssertNoConnection();
    }

    [Fact]
    public void Without_a_connection_or_Endpoint_a_cmdlet_says_to_connect()
    {
        var error = Refused("Get-KvStore");

        Assert.Equal("NotConnected,Kv.PowerShell.Stores.GetKvStoreCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ConnectionError, error.CategoryInfo.Category);
        Assert.Contains("Connect-KvCluster", error.Exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Connect_KvCluster_refuses_a_missing_CA_file_and_stays_disconnected()
    {
        var missing = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "ca.pem");

        var error = Refused($"Connect-KvCluster -Endpoint {Endpoint} -CaCertificate '{missing}'");

        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.Contains(missing, error.Exception.Message, StringComparison.Ordinal);
        Assert.Equal("NotConnected", Refused("Get-KvOperation").FullyQualifiedErrorId.Split(',')[0]);
        AssertNoConnection();
    }

    [Theory]
    [InlineData("Connect-KvCluster")]
    [InlineData("Get-KvStore")]
    public void A_relative_CA_path_is_resolved_against_the_PowerShell_location(string cmdlet)
    {
        var folder = Directory.CreateTempSubdirectory("kvcontrol-ca-").FullName;
        try
        {
            var error = Refused($"Set-Location -LiteralPath '{folder}'; {cmdlet} -Endpoint {Endpoint} -CaCertificate missing-ca.pem");

            Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
            Assert.Contains(Path.Combine(folder, "missing-ca.pem"), error.Exception.Message, StringComparison.Ordinal);
            AssertNoConnection();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_malformed_endpoint_is_refused_as_InvalidArgument()
    {
        var error = Refused("Get-KvStore -Endpoint 'not an endpoint'");

        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
    }

    [Fact]
    public void A_StoreView_piped_by_value_binds_its_Id_as_the_StoreId()
    {
        // The refusal (-Force without -Reason) names the store the pipeline bound: 7, not 0.
        var store = new StoreView(new StoreId(7), "127.0.0.1:1", null, null, new Dictionary<string, string>(), StoreAdminStateView.Active, StoreLivenessView.Up,
            null, null, null, 0, 0, 0, 0, 0, null, null, null, null);
        var error = Refused($"param($store) $store | Start-KvStoreDrain -Force -Endpoint {Endpoint}", store);

        Assert.Equal("ForceNeedsReason", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(7UL, Assert.IsType<ulong>(error.TargetObject));
        AssertNoConnection();
    }

    [Theory]
    [InlineData("$op | Get-KvOperation")]
    [InlineData("$op | Wait-KvOperation")]
    [InlineData("$op | Stop-KvOperation")]
    [InlineData("$op | Get-KvAuditEntry")]
    public void An_OperationView_piped_in_binds_its_Id(string pipeline)
    {
        // A recorded id this client would refuse, so the refusal shows what was bound.
        var operation = OperationView.From(new Kv.Proto.V1.OperationRecord { Id = "piped/op" });

        var error = Refused($"param($op) {pipeline} -Endpoint {Endpoint}", operation);

        Assert.Equal("InvalidOperationId", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal("piped/op", error.TargetObject);
        AssertNoConnection();
    }

    [Fact]
    public void Move_KvLeader_is_an_alias_of_Move_KvRangeLeader()
    {
        var alias = (AliasInfo)Assert.Single(Invoke("Get-Alias -Name Move-KvLeader")).BaseObject;
        Assert.Equal("Move-KvRangeLeader", alias.ReferencedCommand.Name);
    }

    [Fact]
    public void Completion_without_a_connection_offers_no_ids_and_writes_no_error()
    {
        // Completers run on Tab: with no Connect-KvCluster they must neither call anyone nor fail.
        foreach (var line in new[] { "Get-KvStore -StoreId ", "Get-KvRange -RangeId ", "Wait-KvOperation -Id " })
        {
            var result = Assert.Single(Invoke($"(TabExpansion2 -inputScript '{line}' -cursorColumn {line.Length}).CompletionMatches.Count"));
            Assert.Equal(0, (int)result.BaseObject);
        }

        AssertNoConnection();
    }

    [Fact]
    public void Remove_KvStore_asks_for_confirmation_by_default()
    {
        var command = (CmdletInfo)Assert.Single(Invoke("Get-Command -Name Remove-KvStore")).BaseObject;
        var attribute = command.ImplementingType.GetCustomAttributes(typeof(CmdletAttribute), false).Cast<CmdletAttribute>().Single();
        Assert.Equal(ConfirmImpact.High, attribute.ConfirmImpact);
    }

    [Theory]
    [InlineData("Kv.Client.Views.StoreView", "Id,Address,AdminState,Liveness,Ranges,Leaders,MaintenanceUntil,DrainOperationId")]
    [InlineData("Kv.Client.Views.RangeView", "Id,StartKey,EndKey,Epoch,Replicas,Leader")]
    [InlineData("Kv.Client.Views.OperationView", "Id,Kind,Target,State,Step,Ranges,RequestedBy,Created")]
    [InlineData("Kv.Client.Views.PlanView", "Steps,Safe,Bytes,Plan")]
    [InlineData("Kv.Client.Views.PlanStepView", "Index,Kind,RangeId,State,Description")]
    [InlineData("Kv.Client.Views.AuditEntryView", "Seq,At,Who,Action,OperationId,What,Reason,Outcome")]
    [InlineData("Kv.Client.Views.SchedulerStatusView", "Paused,PausedBy,PausedReason,Running,ReplicationFactor,LastPass")]
    [InlineData("Kv.PowerShell.Connection.KvConnection", "Endpoints,CaCertificate,Who,PlacementLeader")]
    [InlineData("Kv.Client.Views.ClusterView", "ClusterId,Bootstrapped,PlacementLeader,Members,StoresUp,Ranges,ReplicationFactor")]
    [InlineData("Kv.PowerShell.Data.KvValue", "Key,Value,Timestamp")]
    [InlineData("Kv.PowerShell.Data.KvTransactionResult", "StartTs,CommitTs,Writes")]
    public void Every_record_the_cmdlets_write_has_a_table_view(string typeName, string columns)
    {
        var format = (ExtendedTypeDefinition)Assert.Single(Invoke($"Get-FormatData -TypeName '{typeName}'")).BaseObject;

        var table = Assert.IsType<TableControl>(Assert.Single(format.FormatViewDefinition).Control);
        Assert.Equal(columns.Split(','), table.Headers.Select(h => h.Label));
    }

    [Fact]
    public void The_table_view_of_an_operation_prints_its_kind_target_state_and_step()
    {
        var operation = OperationView.From(new Kv.Proto.V1.OperationRecord
        {
            Id = "op-table-1",
            State = Kv.Proto.V1.OperationState.Running,
            CurrentStep = 1,
            Spec = new Kv.Proto.V1.OperationSpec { Kind = Kv.Proto.V1.OperationKind.DrainStore, StoreId = 3 },
            Plan = new Kv.Proto.V1.Plan { Steps = { new Kv.Proto.V1.PlanStep { Index = 0 }, new Kv.Proto.V1.PlanStep { Index = 1 } } },
            Progress = new Kv.Proto.V1.OperationProgress { RangesDone = 1, RangesLeft = 1 },
            RequestedBy = "ops",
        });
        using var shell = System.Management.Automation.PowerShell.Create(_runspace);
        shell.AddScript("param($op) $op | Format-Table | Out-String -Width 200").AddArgument(operation);

        var lines = ((string)Assert.Single(shell.Invoke()).BaseObject).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        Assert.Matches(@"^Id\s+Kind\s+Target\s+State\s+Step\s+Ranges\s+RequestedBy\s+Created$", lines[0]);
        Assert.Matches(@"^op-table-1\s+DrainStore\s+store 3\s+Running\s+2/2\s+1 done, 1 left\s+ops$", lines[2]);
    }

    /// <summary>Runs a script that must fail; returns the terminating error record.</summary>
    private ErrorRecord Refused(string script, params object[] arguments)
    {
        using var shell = System.Management.Automation.PowerShell.Create(_runspace);
        shell.AddScript(script);
        foreach (var argument in arguments)
        {
            shell.AddArgument(argument);
        }

        try
        {
            shell.Invoke();
        }
        catch (RuntimeException e)
        {
            return e.ErrorRecord;
        }

        Assert.True(shell.HadErrors, $"'{script}' succeeded; it should have been refused");
        return shell.Streams.Error[0];
    }

    private Collection<PSObject> Invoke(string script)
    {
        using var shell = System.Management.Automation.PowerShell.Create(_runspace);
        var output = shell.AddScript(script).Invoke();
        Assert.False(shell.HadErrors, $"'{script}' wrote errors:\n{string.Join('\n', shell.Streams.Error.Select(e => e.ToString()))}");
        return output;
    }

    /// <summary>The listener was offered no connection: nothing was sent to "the cluster".</summary>
    private void AssertNoConnection() => Assert.False(_listener.Pending(), "the cmdlet connected to the cluster before refusing");
}
