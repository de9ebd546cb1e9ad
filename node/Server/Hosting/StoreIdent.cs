using System.Text.Json;
using Kv.Node.Ranges;
using Kv.Node.Storage;

namespace Kv.Node.Server.Hosting;

/// <summary>
/// Who this store is, persisted (synced) in the meta column family when the data directory is
/// first used: its store id, a random uuid that tells two data directories claiming one id
/// apart, the placement member list it was created with, and the cluster id once learned. A
/// restart with a different member list or a placement that reports another cluster id is
/// refused: either means this data directory belongs to some other cluster or role.
/// </summary>
internal sealed record StoreIdent(ulong StoreId, string StoreUuid, IReadOnlyList<string> Join, string ClusterId)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static StoreIdent? Read(Engine engine)
    {
        var bytes = engine.Get(ColumnFamily.Meta, Keys.StoreIdent);
        if (bytes is null)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<StoreIdent>(bytes, Json)
                ?? throw new InvalidDataException("the store identity record is null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the store identity record in {engine.Path} does not decode ({e.Message}); the data directory is damaged", e);
        }
    }

    public void Write(Engine engine) => engine.Put(ColumnFamily.Meta, Keys.StoreIdent, JsonSerializer.SerializeToUtf8Bytes(this, Json), sync: true);
}
