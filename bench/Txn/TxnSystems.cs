using Kv.Bench.Cluster;

namespace Kv.Bench.Txn;

/// <summary>
/// Which systems the transaction suite can drive. etcd's side is always built; kv-node's side
/// (KvNodeTxn.cs) uses the transaction client of issue 7 and is compiled only once that is in main:
/// until then <see cref="CreateKvNode"/> has no body and <see cref="KvNodeAvailable"/> is false.
/// </summary>
internal static partial class TxnSystems
{
    public static bool KvNodeAvailable
    {
        get
        {
            var compiled = false;
            KvNodeCompiled(ref compiled);
            return compiled;
        }
    }

    public static ITxnSystem For(IBenchSystem cluster)
    {
        if (cluster is EtcdCluster etcd)
        {
            return new EtcdTxn(etcd);
        }

        ITxnSystem? system = null;
        CreateKvNode((KvNodeCluster)cluster, ref system);
        return system ?? throw new InvalidOperationException("the kv-node side of the transaction suite is not compiled in (bench/Txn/KvNodeTxn.cs is removed in bench/Kv.Bench.csproj until the issue-7 merge)");
    }

    /// <summary>Implemented in KvNodeTxn.cs; sets <paramref name="compiled"/> when that file is compiled.</summary>
    static partial void KvNodeCompiled(ref bool compiled);

    /// <summary>Implemented in KvNodeTxn.cs; sets <paramref name="system"/> when that file is compiled.</summary>
    static partial void CreateKvNode(KvNodeCluster cluster, ref ITxnSystem? system);
}
