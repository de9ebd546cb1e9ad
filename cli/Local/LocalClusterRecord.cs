using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kv.Cli.Local;

/// <summary>
/// <c>DIR/cluster.json</c>: the record of an embedded local cluster, what <c>kvctl local up</c>
/// created and what runs. Layout under DIR:
/// <code>
///   cluster.json          this record
///   nodeN/data            node N's data directory (its RocksDB store)
///   nodeN/kv-node.log     node N's stdout and stderr, appended across restarts
/// </code>
/// Ports are chosen once, at the first <c>up</c>, and never change: the nodes persist the
/// placement membership (the <c>--join</c> list of addresses), so a later <c>up</c> must start
/// every node on the same address. Pids are the last started processes; <c>down</c> checks that a
/// pid still belongs to this node's kv-node before signalling it (pids are reused).
/// </summary>
internal sealed record LocalClusterRecord
{
    public const string CurrentApiVersion = "kvctl/v1";
    public const string RecordKind = "LocalCluster";
    public const string FileName = "cluster.json";
    public const int MaxNodes = 9;

    public string ApiVersion { get; init; } = CurrentApiVersion;

    public string Kind { get; init; } = RecordKind;

    /// <summary>Unix ms of the first <c>up</c>.</summary>
    public long CreatedAtMs { get; init; }

    public required IReadOnlyList<LocalNodeRecord> Nodes { get; init; }

    /// <summary>True for a cluster made by <c>up --secure</c>: its nodes serve mutual TLS only, with the certificates in <see cref="CertDir"/>; a cluster keeps it for life.</summary>
    public bool Secure { get; init; }

    /// <summary>Where <c>up --secure</c> keeps the cluster's CA and certificates.</summary>
    public static string CertDir(string dir) => Path.Combine(dir, "certs");

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Placement members for n nodes: the first 1, 3 or 5 (DESIGN.md section 7), an odd number so a majority survives the most failures.</summary>
    public static int PlacementMemberCount(int nodes) => nodes >= 5 ? 5 : nodes >= 3 ? 3 : 1;

    public static string PathIn(string dir) => Path.Combine(dir, FileName);

    public static string Address(int port) => "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);

    public static string NodeDir(string dir, int id) => Path.Combine(dir, "node" + id.ToString(CultureInfo.InvariantCulture));

    public static string DataDir(string dir, int id) => Path.Combine(NodeDir(dir, id), "data");

    public static string LogPath(string dir, int id) => Path.Combine(NodeDir(dir, id), "kv-node.log");

    /// <summary>The <c>--join</c> value: the placement members' addresses, identical on every node and across restarts.</summary>
    public string JoinList() =>
        string.Join(',', Nodes.Take(PlacementMemberCount(Nodes.Count)).Select(n => Address(n.Port)));

    public IReadOnlyList<string> Endpoints() => [.. Nodes.Select(n => Address(n.Port))];

    /// <summary>A new record for ports (node ids 1..n in order), no process started yet.</summary>
    public static LocalClusterRecord Create(IReadOnlyList<int> ports, DateTimeOffset now)
    {
        if (ports.Count is < 1 or > MaxNodes)
        {
            throw new ArgumentOutOfRangeException(nameof(ports), ports.Count, $"a local cluster has 1 to {MaxNodes} nodes");
        }

        if (ports.Distinct().Count() != ports.Count)
        {
            throw new ArgumentException("ports must be distinct", nameof(ports));
        }

        return new LocalClusterRecord
        {
            CreatedAtMs = now.ToUnixTimeMilliseconds(),
            Nodes = [.. ports.Select((port, i) => new LocalNodeRecord { Id = i + 1, Port = port })],
        };
    }

    /// <summary>The record in dir, or null when there is none. A file that is not a valid record is an error naming the file and what to do.</summary>
    public static LocalClusterRecord? Load(string dir)
    {
        var path = PathIn(dir);
        if (!File.Exists(path))
        {
            return null;
        }

        LocalClusterRecord? record;
        try
        {
            record = JsonSerializer.Deserialize<LocalClusterRecord>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON ({e.Message}); if no node of this cluster runs, move {dir} away and run `kvctl local up` again", e);
        }

        var problem = record is null ? "it is empty" : record.Validate();
        if (problem is not null)
        {
            throw new InvalidDataException($"'{path}' is not a {CurrentApiVersion} {RecordKind} record: {problem}; if no node of this cluster runs, move {dir} away and run `kvctl local up` again");
        }

        return record;
    }

    /// <summary>Writes atomically (temp file, then rename) so a crash never leaves half a record.</summary>
    public static void Save(string dir, LocalClusterRecord record)
    {
        Directory.CreateDirectory(dir);
        var path = PathIn(dir);
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(record, Json));
        File.Move(temp, path, overwrite: true);
    }

    public LocalClusterRecord WithPid(int id, int? pid) =>
        this with { Nodes = [.. Nodes.Select(n => n.Id == id ? n with { Pid = pid } : n)] };

    /// <summary>Null when the record is usable, else what is wrong with it.</summary>
    internal string? Validate()
    {
        if (ApiVersion != CurrentApiVersion || Kind != RecordKind)
        {
            return $"apiVersion '{ApiVersion}', kind '{Kind}'";
        }

        if (Nodes is not { Count: >= 1 and <= MaxNodes })
        {
            return $"it must list 1 to {MaxNodes} nodes";
        }

        for (var i = 0; i < Nodes.Count; i++)
        {
            var node = Nodes[i];
            if (node.Id != i + 1)
            {
                return $"node ids must be 1..{Nodes.Count} in order (entry {i + 1} has id {node.Id})";
            }

            if (node.Port is < 1 or > 65535)
            {
                return $"node {node.Id} has port {node.Port}, not 1..65535";
            }

            if (node.Pid is <= 0)
            {
                return $"node {node.Id} has pid {node.Pid}";
            }
        }

        if (Nodes.Select(n => n.Port).Distinct().Count() != Nodes.Count)
        {
            return "two nodes have the same port";
        }

        return null;
    }
}

/// <summary>One node of a local cluster: its id (1-based; the first 1/3/5 are placement members and their store ids equal their ids), its port on 127.0.0.1, the pid last started.</summary>
internal sealed record LocalNodeRecord
{
    public required int Id { get; init; }

    public required int Port { get; init; }

    /// <summary>The process last started for this node; null before the first start.</summary>
    public int? Pid { get; init; }
}
