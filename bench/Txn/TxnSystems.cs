using Kv.Bench.Cluster;

namespace Kv.Bench.Txn;

/// <summary>The transaction-suite side of each system the cluster bench starts.</summary>
internal static class TxnSystems
{
    public static ITxnSystem For(IBenchSystem cluster) => cluster switch
    {
        EtcdCluster etcd => new EtcdTxn(etcd),
        KvNodeCluster kv => new KvNodeTxn(kv),
        _ => throw new ArgumentException($"no transaction workload for {cluster.GetType().Name}", nameof(cluster)),
    };
}
