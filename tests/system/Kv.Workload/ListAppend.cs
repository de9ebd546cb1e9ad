using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kv.Workload;

/// <summary>List-append (after Elle): a transaction is 1-4 micro-ops [append k v] / [r k list]. A
/// list is one key holding a JSON array; append = read + write of that key in the transaction.
/// Appended values are unique (process:n), which lets the checker recover who wrote what.</summary>
public sealed class ListAppendWorkload(ITxnStore store, HistoryWriter history, WorkloadOptions options) : Workload(store, history, options)
{
    public const string Prefix = "la/";

    public static byte[] Key(int k) => Encoding.UTF8.GetBytes(Prefix + k.ToString("D4", CultureInfo.InvariantCulture));

    protected override Task OneAsync(string process, Random random, int n, CancellationToken cancellationToken)
    {
        var mops = new JsonArray();
        var count = 1 + random.Next(4);
        for (var i = 0; i < count; i++)
        {
            var k = random.Next(Options.Keys);
            mops.Add(random.Next(2) == 0
                ? new JsonArray("append", k, $"{process}:{n}.{i}")
                : new JsonArray("r", k, null));
        }
        return RecordAsync(process, "txn", mops.DeepClone(), async (txn, ct) =>
        {
            var result = new JsonArray();
            foreach (var mop in mops)
            {
                var f = (string)mop![0]!;
                var k = (int)mop[1]!;
                var list = Decode(await txn.GetAsync(Key(k), ct));
                if (f == "append")
                {
                    list.Add((string)mop[2]!);
                    txn.Put(Key(k), JsonSerializer.SerializeToUtf8Bytes(list, ListContext.Default.ListString));
                    result.Add(new JsonArray("append", k, (string)mop[2]!));
                }
                else
                {
                    result.Add(new JsonArray("r", k, new JsonArray([.. list.Select(v => (JsonNode?)v)])));
                }
            }
            return result;
        }, readOnly: false);
    }

    private static List<string> Decode(byte[]? value) =>
        value is null ? [] : JsonSerializer.Deserialize(value, ListContext.Default.ListString) ?? [];
}

[System.Text.Json.Serialization.JsonSerializable(typeof(List<string>))]
internal sealed partial class ListContext : System.Text.Json.Serialization.JsonSerializerContext;
