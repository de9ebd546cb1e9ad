using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.InteropServices;
using Kv.Client;

namespace Kv.PowerShell.Tests;

/// <summary>
/// Runs the built module in PowerShell 7.6 hosted in this process (Microsoft.PowerShell.SDK):
/// each test opens a runspace, imports KvControl.psd1 from the test's output folder by path, as a
/// user's <c>Import-Module</c> would, and runs cmdlets through the pipeline, formatting included.
/// tests/pester runs the same module in a real pwsh.
/// </summary>
public sealed class InProcessModuleTests : IDisposable
{
    private static readonly string Manifest = Path.Combine(AppContext.BaseDirectory, "KvControl.psd1");

    private readonly Runspace runspace;

    public InProcessModuleTests()
    {
        runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        runspace.Open();
        Run($"Import-Module -Name '{Manifest}' -ErrorAction Stop");
    }

    public void Dispose() => runspace.Dispose();

    [Fact]
    public void Get_KvVersion_writes_one_typed_KvVersionInfo_with_the_module_client_and_runtime_versions()
    {
        var output = Run("Get-KvVersion");

        var only = Assert.Single(output);
        var version = Assert.IsType<KvVersionInfo>(only.BaseObject);
        Assert.Equal(typeof(GetKvVersionCommand).Assembly.GetName().Version!.ToString(3), version.Module);
        Assert.Equal(BuildVersion.Version, version.Client);
        Assert.Equal(RuntimeInformation.FrameworkDescription, version.Framework);
    }

    [Fact]
    public void The_imported_module_version_is_the_assembly_version()
    {
        var module = Assert.Single(Run("Get-Module -Name KvControl"));
        Assert.Equal(typeof(GetKvVersionCommand).Assembly.GetName().Version!.ToString(3), ((PSModuleInfo)module.BaseObject).Version.ToString(3));
    }

    [Fact]
    public void Get_KvVersion_declares_the_type_it_writes()
    {
        var command = (CmdletInfo)Assert.Single(Run("Get-Command -Name Get-KvVersion -Module KvControl")).BaseObject;
        Assert.Contains(command.OutputType, t => t.Type == typeof(KvVersionInfo));
    }

    [Fact]
    public void Get_KvVersion_formats_through_the_modules_table_view()
    {
        // -View fails unless KvControl.format.ps1xml was loaded with the module and names this view.
        var text = (string)Assert.Single(Run("Get-KvVersion | Format-Table -View KvVersionInfo | Out-String")).BaseObject;

        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Matches(@"^Module\s+Client\s+Framework$", lines[0]);
        Assert.Matches(@"^-+\s+-+\s+-+$", lines[1]);
        Assert.Contains(BuildVersion.Version, lines[2], StringComparison.Ordinal);
    }

    /// <summary>Runs a script in this test's runspace; any error record fails the test with its text.</summary>
    private Collection<PSObject> Run(string script)
    {
        using var shell = System.Management.Automation.PowerShell.Create(runspace);
        var output = shell.AddScript(script).Invoke();
        Assert.False(shell.HadErrors, $"'{script}' wrote errors:\n{string.Join('\n', shell.Streams.Error.Select(e => e.ToString()))}");
        return output;
    }
}
