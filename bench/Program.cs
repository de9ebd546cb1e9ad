// kv-bench SUITE [options]: each suite prints a Markdown table for docs/PERFORMANCE.md.
// Suites register here, one line each.
var suites = new SortedDictionary<string, Func<string[], int>>(StringComparer.Ordinal)
{
    ["binding"] = Kv.Bench.Engine.BindingBench.Run,
    ["cluster"] = Kv.Bench.Cluster.ClusterBench.Run,
    ["engine"] = Kv.Bench.Engine.EngineBench.Run,
    ["rpc"] = Kv.Bench.Rpc.RpcBench.Run,
    ["snapshot"] = Kv.Bench.Snapshots.SnapshotBench.Run,
    ["split"] = Kv.Bench.Cluster.SplitBench.Run,
    ["raft"] = Kv.Bench.Raft.RaftBench.Run,
    ["raftlog"] = Kv.Bench.RaftLog.RaftLogBench.Run,
    ["txn"] = Kv.Bench.Txn.TxnBench.Run,
};

if (args.Length == 0 || !suites.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: kv-bench SUITE [options]; suites: {string.Join(", ", suites.Keys)}");
    return 2;
}

return run(args[1..]);
