using System.Text.Json.Nodes;

namespace Kv.Workload.Tests;

/// <summary>Hand-written histories: Txn runs one operation start to end; Invoke/Complete let
/// operations overlap. Time advances by one per line.</summary>
internal sealed class HistoryBuilder
{
    private readonly List<HistoryOp> _ops = [];
    private readonly Dictionary<string, string> _open = [];
    private long _time;

    public List<Operation> Operations => HistoryReader.Pair(_ops);

    public List<HistoryOp> Lines => _ops;

    /// <summary>A list-append micro-op: A(k, "v") appends; R(k, "a", "b") reads [a b].</summary>
    public static JsonArray A(int key, string value) => new("append", key, value);

    public static JsonArray R(int key, params string[] list) => new("r", key, new JsonArray([.. list.Select(v => (JsonNode?)v)]));

    public HistoryBuilder Txn(string process, string type, params JsonArray[] mops) => Invoke(process, mops).Complete(process, type, mops);

    public HistoryBuilder Invoke(string process, params JsonArray[] mops)
    {
        var invoke = new JsonArray([.. mops.Select(m => (JsonNode?)(m[0]!.ToString() == "r" ? new JsonArray("r", m[1]!.DeepClone(), null) : m.DeepClone()))]);
        _ops.Add(new HistoryOp(process, "invoke", "txn", invoke, ++_time));
        return this;
    }

    public HistoryBuilder Complete(string process, string type, params JsonArray[] mops) => CompleteTs(process, type, null, null, mops);

    /// <summary>Completes with the transaction's start_ts and commit_ts recorded, as the workload does.</summary>
    public HistoryBuilder CompleteTs(string process, string type, ulong? startTs, ulong? commitTs, params JsonArray[] mops)
    {
        var value = type == "ok" ? new JsonArray([.. mops.Select(m => (JsonNode?)m.DeepClone())]) : null;
        _ops.Add(new HistoryOp(process, type, "txn", value, ++_time, startTs, commitTs));
        return this;
    }

    /// <summary>One ok transaction, start to end, with its timestamps.</summary>
    public HistoryBuilder TxnTs(string process, ulong startTs, ulong commitTs, params JsonArray[] mops) =>
        Invoke(process, mops).CompleteTs(process, "ok", startTs, commitTs, mops);

    public HistoryBuilder Op(string process, string type, string f, JsonNode? invokeValue, JsonNode? completionValue)
    {
        _ops.Add(new HistoryOp(process, "invoke", f, invokeValue, ++_time));
        _ops.Add(new HistoryOp(process, type, f, completionValue, ++_time));
        return this;
    }
}
