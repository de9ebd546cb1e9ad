using System.Text;
using Google.Protobuf;
using Kv.Node.Placement;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Placement;

/// <summary>Builders for placement commands and a canonical text form of a state, for comparisons.</summary>
internal static class PlacementTestData
{
    public static PlacementCommand Bootstrap(string clusterId = "c1", ulong idFloor = 1000, params ulong[] members) =>
        new()
        {
            Bootstrap = new BootstrapCommand
            {
                ClusterId = clusterId,
                AtMs = 1_700_000_000_000,
                IdFloor = idFloor,
                FirstRange = Range(1, "", "", 1, 1, members.Length == 0 ? [1, 2, 3] : members),
            },
        };

    public static RangeDescriptor Range(ulong id, string start, string end, ulong version, ulong confVer, params ulong[] stores)
    {
        var range = new RangeDescriptor
        {
            RangeId = id,
            StartKey = ByteString.CopyFromUtf8(start),
            EndKey = ByteString.CopyFromUtf8(end),
            Epoch = new RangeEpoch { Version = version, ConfVer = confVer },
        };
        foreach (var store in stores.Length == 0 ? [1UL, 2, 3] : stores)
        {
            range.Replicas.Add(new ReplicaDescriptor { ReplicaId = (id * 100) + store, StoreId = store });
        }

        if (id == 1 && version == 1)
        {
            // The bootstrap range uses replica id = store id.
            foreach (var replica in range.Replicas)
            {
                replica.ReplicaId = replica.StoreId;
            }
        }

        return range;
    }

    public static PlacementCommand PutRange(RangeDescriptor range) => new() { PutRange = new PutRangeCommand { Range = range } };

    public static PlacementCommand PutStore(ulong id, string address = "127.0.0.1:7000", string uuid = "u", string version = "0.1.0") =>
        new() { PutStore = new PutStoreCommand { Store = new StoreDescriptor { StoreId = id, Address = address, StoreUuid = uuid, Version = version } } };

    public static PlacementCommand AllocId(uint count) => new() { AllocId = new AllocIdCommand { Count = count } };

    public static PlacementCommand ExtendTso(long endMs) => new() { ExtendTsoWindow = new ExtendTsoWindowCommand { EndMs = endMs } };

    /// <summary>Everything the snapshot holds, in a canonical order.</summary>
    public static string Describe(PlacementSnapshot s)
    {
        var b = new StringBuilder();
        b.Append("cluster=").Append(s.Cluster).AppendLine();
        b.Append("lastId=").Append(s.LastId).Append(" tso=").Append(s.TsoWindowEndMs).AppendLine();
        foreach (var (id, store) in s.Stores)
        {
            b.Append("store ").Append(id).Append(' ').Append(store).AppendLine();
        }

        foreach (var range in s.RangesByStart)
        {
            b.Append("range ").Append(range).AppendLine();
        }

        b.Append("byId=").Append(string.Join(",", s.RangesById.Keys.Order()));
        return b.ToString();
    }

    /// <summary>Applies <paramref name="command"/> and stages its mutations into <paramref name="records"/>, as the hosting group does.</summary>
    public static PlacementApplyResult ApplyAndPersist(PlacementState state, PlacementCommand command, SortedDictionary<string, byte[]> records)
    {
        var result = state.Apply(command);
        foreach (var (key, value) in result.Mutations)
        {
            string hex = Convert.ToHexString(key);
            if (value is null)
            {
                Assert.True(records.Remove(hex), $"a delete names a key that exists: {hex}");
            }
            else
            {
                records[hex] = value;
            }
        }

        return result;
    }

    public static IEnumerable<KeyValuePair<byte[], byte[]>> AsRecords(SortedDictionary<string, byte[]> records) =>
        records.Select(r => new KeyValuePair<byte[], byte[]>(Convert.FromHexString(r.Key), r.Value));
}
