using System.Management.Automation;
using Kv.Client;

namespace Kv.PowerShell;

/// <summary>The version of the KvControl module and the client library it runs on.</summary>
public sealed class KvVersionInfo
{
    public required string Module { get; init; }

    public required string Client { get; init; }

    public required string Framework { get; init; }
}

/// <summary><c>Get-KvVersion</c>: reports the module's version; touches no cluster.</summary>
[Cmdlet(VerbsCommon.Get, "KvVersion")]
[OutputType(typeof(KvVersionInfo))]
public sealed class GetKvVersionCommand : PSCmdlet
{
    protected override void ProcessRecord() =>
        WriteObject(new KvVersionInfo
        {
            Module = typeof(GetKvVersionCommand).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
            Client = BuildVersion.Version,
            Framework = BuildVersion.Framework,
        });
}
