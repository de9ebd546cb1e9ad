using System.Management.Automation;
using Kv.Client.Cluster;
using Kv.Client.Views;
using Kv.PowerShell.Connection;
using Kv.Proto.V1;

namespace Kv.PowerShell.Cluster;

/// <summary>
/// <c>Get-KvCluster</c> (kvctl cluster status): the cluster id, bootstrap, placement members and
/// leader, stores up, ranges and replication factor. A cluster not bootstrapped yet is not an
/// error here (Bootstrapped is false); the replication factor is null when the admin API does
/// not answer it (the rest still holds).
/// </summary>
[Cmdlet(VerbsCommon.Get, "KvCluster")]
[OutputType(typeof(ClusterView))]
public sealed class GetKvClusterCommand : KvCmdlet
{
    protected override void Process()
    {
        GetClusterInfoResponse info;
        try
        {
            info = Await(Connection.Data.GetClusterInfoAsync(StopToken));
        }
        catch (KvException e) when (e.Kind == KvErrorKind.NotBootstrapped)
        {
            info = new GetClusterInfoResponse { Bootstrapped = false };
        }

        uint? replicationFactor = null;
        if (info.Bootstrapped)
        {
            try
            {
                replicationFactor = Await(Admin.GetSettingsAsync(StopToken)).ReplicationFactor;
            }
            catch (KvException e) when (e.Kind != KvErrorKind.Internal)
            {
                WriteVerbose($"the replication factor is unknown: {e.Message}");
            }
        }

        WriteObject(ClusterView.From(info, Connection.Data.ClusterId, replicationFactor));
    }
}
