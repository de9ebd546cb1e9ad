using System.Globalization;
using System.Net;
using Kv.Client.Cluster;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Kv.Node.Server.Configuration;

/// <summary>
/// Builds a <see cref="NodeConfig"/> from flags, environment and an optional YAML file, in that
/// order of precedence. Every setting has one name in three spellings: flag <c>--data-dir</c>,
/// environment <c>KV_NODE_DATA_DIR</c>, file key <c>dataDir</c>. Unknown flags and file keys are
/// errors (a typo must not silently fall back to a default).
/// </summary>
internal static class NodeConfigLoader
{
    private static readonly string[] Settings =
    [
        "data-dir", "listen", "advertise", "join", "placement", "tick-interval-ms", "election-ticks", "heartbeat-ticks",
        "store-heartbeat-interval-ms", "store-down-after-ms", "max-key-bytes", "max-value-bytes",
        "range-split-size-mb", "range-split-qps", "range-split-check-interval-ms",
        "raft-log-compact-threshold", "max-concurrent-snapshots", "metrics-addr", "labels",
        "store-down-replace-after", "scheduler-interval-ms", "tls-cert", "tls-key", "tls-client-ca",
        "gc-life-time", "gc-max-service-ttl",
    ];

    public const string Usage = """
        kv-node serve --data-dir DIR --join HOST:PORT[,HOST:PORT...] [options]
          --data-dir DIR                  the store's data directory (created on first start)
          --listen HOST:PORT              address to listen on (default 127.0.0.1:20160)
          --advertise HOST:PORT           address others dial (default: --listen)
          --metrics-addr HOST:PORT        plain HTTP/1.1 listener for /metrics, /healthz and /readyz
                                          (default: the --listen host, port + 20: 127.0.0.1:20180; port 0: any free port)
          --join A1[,A2,A3]               placement members' addresses, the same list in the same order on every
                                          node; a node whose --advertise is listed is a placement member
          --placement true|false          assert that this node is (or is not) a placement member
          --labels K=V[,K=V...]           where this store sits, e.g. zone=a,host=h1 (keys and values: 1-63 of
                                          A-Z a-z 0-9 - _ ., starting and ending alphanumeric; at most 16, each key once);
                                          in the config file a mapping (labels: {zone: a, host: h1}) or the same text
          --config FILE                   YAML file with the same settings in camelCase (dataDir, join: [...], ...)
          --tick-interval-ms N            Raft tick (default 100)
          --election-ticks N              ticks before a follower campaigns (default 10)
          --heartbeat-ticks N             ticks between leader heartbeats (default 1)
          --store-heartbeat-interval-ms N store and range heartbeats to placement (default 1000)
          --store-down-after-ms N         a store without heartbeats this long is Down (default 10000)
          --store-down-replace-after D    the scheduler replaces the replicas of a store Down this long, unless it is
                                          in a maintenance window (default 30m; 500ms, 90s, 30m, 2h, 1d)
          --scheduler-interval-ms N       time between the placement leader's scheduler passes (default 5000)
          --gc-life-time D                GC keeps replaced versions this long: the candidate safe point is now minus it (default 10m)
          --gc-max-service-ttl D          longest TTL a service safe point may ask for (default 1d; at most 30d)
          --max-key-bytes N               largest key accepted (default 4096)
          --max-value-bytes N             largest value accepted (default 1048576)
          --range-split-size-mb N         a range's leader splits it in the middle once it holds about N MiB (default 96; 0: never)
          --range-split-qps N             ... and at a sampled key once it serves N key requests/s over a check window (default 2500; 0: never)
          --range-split-check-interval-ms N  how often leaders check their ranges' size and load (default 10000)
          --raft-log-compact-threshold N  applied entries a range's Raft log keeps before it is compacted; a follower
                                          further behind gets a snapshot (default 10000)
          --tls-cert FILE                 secure mode: this node's certificate (PEM, role node; `kvctl cert create-node`);
                                          with --tls-key and --tls-client-ca, all three or none. The node then serves
                                          mutual TLS only and checks every caller's role (docs/SECURITY.md)
          --tls-key FILE                  the private key of --tls-cert (PEM)
          --tls-client-ca FILE            the cluster CA (PEM): callers and peers must present certificates it signed
          --max-concurrent-snapshots N    snapshots a store sends at once, and (a separate limit) receives at once (default 4)
        Every setting can also come from the environment: KV_NODE_DATA_DIR, KV_NODE_JOIN, ...
        Precedence: flags, then environment, then the file, then defaults.
        """;

    public static NodeConfig Load(IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment)
    {
        var values = new Dictionary<string, (string Value, string Source)>(StringComparer.Ordinal);
        var flags = ParseFlags(args);
        var configFile = flags.TryGetValue("config", out var f) ? f : environment.GetValueOrDefault("KV_NODE_CONFIG");
        if (!string.IsNullOrEmpty(configFile))
        {
            foreach (var (k, v) in ReadFile(configFile))
            {
                values[k] = (v, $"{configFile}");
            }
        }

        foreach (var name in Settings)
        {
            var env = "KV_NODE_" + name.Replace('-', '_').ToUpperInvariant();
            if (environment.TryGetValue(env, out var v) && v.Length > 0)
            {
                values[name] = (v, $"environment variable {env}");
            }
        }

        foreach (var (k, v) in flags)
        {
            if (k != "config")
            {
                values[k] = (v, $"flag --{k}");
            }
        }

        return Build(values);
    }

    private static Dictionary<string, string> ParseFlags(IReadOnlyList<string> args)
    {
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
            {
                throw new NodeConfigException($"unexpected argument '{a}'; settings are flags like --data-dir DIR");
            }

            string name, value;
            var eq = a.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = a[2..eq];
                value = a[(eq + 1)..];
            }
            else
            {
                name = a[2..];
                if (name == "placement" && (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal)))
                {
                    value = "true"; // a bare --placement asserts membership
                }
                else if (i + 1 < args.Count)
                {
                    value = args[++i];
                }
                else
                {
                    throw new NodeConfigException($"flag --{name} needs a value");
                }
            }

            if (name != "config" && Array.IndexOf(Settings, name) < 0)
            {
                throw new NodeConfigException($"unknown flag --{name}; run 'kv-node serve --help' for the list");
            }

            if (!flags.TryAdd(name, value))
            {
                throw new NodeConfigException($"flag --{name} is given twice");
            }
        }

        return flags;
    }

    private static Dictionary<string, string> ReadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigException($"config file '{path}' cannot be read: {e.Message}", e);
        }

        Dictionary<string, object?>? doc;
        try
        {
            doc = new DeserializerBuilder().Build().Deserialize<Dictionary<string, object?>>(text);
        }
        catch (YamlException e)
        {
            throw new NodeConfigException($"config file '{path}' is not valid YAML at line {e.Start.Line}, column {e.Start.Column}: {e.InnerException?.Message ?? e.Message}", e);
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in doc ?? [])
        {
            var name = Array.Find(Settings, s => ToCamel(s) == key)
                ?? throw new NodeConfigException($"config file '{path}': unknown key '{key}'; keys are {string.Join(", ", Settings.Select(ToCamel))}");
            result[name] = value switch
            {
                null => "",
                string s => s,
                List<object> list when name != "labels" => string.Join(',', list),
                Dictionary<object, object> map when name == "labels" => string.Join(',', map.Select(p => $"{p.Key}={p.Value}")),
                _ => throw new NodeConfigException($"config file '{path}': key '{key}' must be {(name == "labels" ? "a mapping of label keys to values (or key=value,... text)" : name == "join" ? "a scalar or a list" : "a scalar")}"),
            };
        }

        return result;
    }

    private static string ToCamel(string kebab)
    {
        var parts = kebab.Split('-');
        return parts[0] + string.Concat(parts.Skip(1).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));
    }

    private static NodeConfig Build(Dictionary<string, (string Value, string Source)> v)
    {
        string? Str(string name) => v.TryGetValue(name, out var x) && x.Value.Length > 0 ? x.Value : null;

        int Int(string name, int fallback, int min, int max)
        {
            if (!v.TryGetValue(name, out var x) || x.Value.Length == 0)
            {
                return fallback;
            }

            if (!int.TryParse(x.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
            {
                throw new NodeConfigException($"{name} from {x.Source} is '{x.Value}'; it must be a whole number from {min} to {max}");
            }

            return n;
        }

        long Duration(string name, long fallbackMs, long minMs, long maxMs)
        {
            if (!v.TryGetValue(name, out var x) || x.Value.Length == 0)
            {
                return fallbackMs;
            }

            return ParseDurationMs(x.Value) is { } ms && ms >= minMs && ms <= maxMs ? ms
                : throw new NodeConfigException($"{name} from {x.Source} is '{x.Value}'; give a duration from {minMs} ms to {maxMs / 86_400_000} days, such as 500ms, 90s, 30m, 2h or 1d");
        }

        var dataDir = Str("data-dir") ?? throw new NodeConfigException("--data-dir is required (or KV_NODE_DATA_DIR, or dataDir in the config file)");
        var listen = Str("listen") ?? "127.0.0.1:20160";
        CheckAddress("listen", listen, v);
        var advertise = Str("advertise");
        if (advertise is not null)
        {
            CheckAddress("advertise", advertise, v);
        }

        var metricsAddr = Str("metrics-addr");
        if (metricsAddr is not null)
        {
            CheckAddress("metrics-addr", metricsAddr, v, allowPortZero: true);
        }
        else if (ListenPort(listen) > ushort.MaxValue - NodeConfig.MetricsPortOffset)
        {
            throw new NodeConfigException($"--listen {listen} leaves no room for the default metrics port (listen port + {NodeConfig.MetricsPortOffset}); set --metrics-addr");
        }

        var joinText = Str("join") ?? throw new NodeConfigException("--join is required: the placement members' addresses, e.g. --join 127.0.0.1:20160 (a single-node cluster joins itself)");
        var join = joinText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var a in join)
        {
            CheckAddress("join", a, v);
        }

        if (join.Length is not (1 or 3 or 5))
        {
            throw new NodeConfigException($"--join lists {join.Length} placement members; use 1, 3 or 5 (an odd number keeps a majority after failures)");
        }

        if (join.Distinct(StringComparer.OrdinalIgnoreCase).Count() != join.Length)
        {
            throw new NodeConfigException($"--join lists an address twice: {joinText}");
        }

        bool? placement = null;
        if (Str("placement") is { } p)
        {
            placement = bool.TryParse(p, out var b) ? b : throw new NodeConfigException($"placement from {v["placement"].Source} is '{p}'; use true or false");
        }

        var labels = StoreLabels.None;
        if (Str("labels") is { } labelText)
        {
            var (parsed, labelError) = StoreLabels.Parse(labelText);
            labels = parsed ?? throw new NodeConfigException($"labels from {v["labels"].Source}: {labelError}");
        }

        var tlsCert = Str("tls-cert");
        var tlsKey = Str("tls-key");
        var tlsCa = Str("tls-client-ca");
        if (tlsCert is not null || tlsKey is not null || tlsCa is not null)
        {
            var missing = new[] { ("tls-cert", tlsCert), ("tls-key", tlsKey), ("tls-client-ca", tlsCa) }.Where(t => t.Item2 is null).Select(t => "--" + t.Item1).ToList();
            if (missing.Count > 0)
            {
                var given = new[] { ("tls-cert", tlsCert), ("tls-key", tlsKey), ("tls-client-ca", tlsCa) }.Where(t => t.Item2 is not null).Select(t => $"--{t.Item1} (from {v[t.Item1].Source})");
                throw new NodeConfigException($"secure mode needs --tls-cert, --tls-key and --tls-client-ca together; {string.Join(" and ", given)} given but {string.Join(" and ", missing)} missing: give {(missing.Count == 1 ? "it" : "them")} too, or none of the three to serve cleartext");
            }
        }

        var config = new NodeConfig
        {
            TlsCert = tlsCert,
            TlsKey = tlsKey,
            TlsClientCa = tlsCa,
            Labels = labels,
            DataDir = dataDir,
            Listen = listen,
            Advertise = advertise,
            MetricsAddr = metricsAddr,
            Join = join,
            Placement = placement,
            TickIntervalMs = Int("tick-interval-ms", 100, 1, 10_000),
            ElectionTicks = Int("election-ticks", 10, 2, 1000),
            HeartbeatTicks = Int("heartbeat-ticks", 1, 1, 1000),
            StoreHeartbeatIntervalMs = Int("store-heartbeat-interval-ms", 1000, 10, 600_000),
            StoreDownAfterMs = Int("store-down-after-ms", 10_000, 100, 86_400_000),
            MaxKeyBytes = Int("max-key-bytes", 4096, 1, 32 * 1024), // RocksDB keys are limited; ours add a prefix
            MaxValueBytes = Int("max-value-bytes", 1 << 20, 0, 3 << 20),
            RangeSplitSizeMb = Int("range-split-size-mb", 96, 0, 1 << 20),
            RangeSplitQps = Int("range-split-qps", 2500, 0, 100_000_000),
            RangeSplitCheckIntervalMs = Int("range-split-check-interval-ms", 10_000, 10, 3_600_000),
            RaftLogCompactThreshold = (ulong)Int("raft-log-compact-threshold", 10_000, 100, 100_000_000),
            MaxConcurrentSnapshots = Int("max-concurrent-snapshots", 4, 1, 64),
            StoreDownReplaceAfterMs = Duration("store-down-replace-after", 30 * 60 * 1000, 100, 30L * 86_400_000),
            SchedulerIntervalMs = Int("scheduler-interval-ms", 5000, 10, 3_600_000),
            GcLifeTimeMs = Duration("gc-life-time", 10 * 60 * 1000, 0, 30L * 86_400_000),
            GcMaxServiceTtlMs = Duration("gc-max-service-ttl", 86_400_000, 1000, 30L * 86_400_000),
        };
        if (config.HeartbeatTicks >= config.ElectionTicks)
        {
            throw new NodeConfigException($"heartbeat-ticks ({config.HeartbeatTicks}) must be below election-ticks ({config.ElectionTicks})");
        }

        if (config.Placement is { } asserted && asserted != (config.MemberId != 0))
        {
            throw new NodeConfigException(asserted
                ? $"--placement true, but this node's address {config.AdvertiseAddress} is not in --join ({joinText}); add it, or fix --advertise"
                : $"--placement false, but this node's address {config.AdvertiseAddress} is in --join ({joinText})");
        }

        return config;
    }

    /// <summary>Milliseconds of "500ms", "90s", "30m", "2h", "1d" or a bare number of ms; null when malformed.</summary>
    internal static long? ParseDurationMs(string text)
    {
        text = text.Trim();
        (string suffix, long unit)[] units = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("", 1)];
        foreach (var (suffix, unit) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && long.TryParse(text.AsSpan(0, text.Length - suffix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                && n <= long.MaxValue / unit)
            {
                return n * unit;
            }
        }

        return null;
    }

    private static void CheckAddress(string name, string address, Dictionary<string, (string Value, string Source)> v, bool allowPortZero = false)
    {
        var source = v.TryGetValue(name, out var x) ? x.Source : "defaults";
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !ushort.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || (port == 0 && !allowPortZero)
            || Uri.CheckHostName(address[..colon].Trim('[', ']')) == UriHostNameType.Unknown)
        {
            throw new NodeConfigException($"{name} from {source} is '{address}'; it must be HOST:PORT with a port from 1 to 65535");
        }
    }

    /// <summary>The listen endpoint: an IP literal, or any address for host names ("localhost" binds loopback).</summary>
    public static IPEndPoint ListenEndPoint(NodeConfig config) => EndPoint(config.Listen, 0);

    /// <summary>The metrics listener's endpoint: --metrics-addr, or the listen host at the listen port + <see cref="NodeConfig.MetricsPortOffset"/>.</summary>
    public static IPEndPoint MetricsEndPoint(NodeConfig config) =>
        config.MetricsAddr is { } addr ? EndPoint(addr, 0) : EndPoint(config.Listen, NodeConfig.MetricsPortOffset);

    private static int ListenPort(string address) => int.Parse(address.AsSpan(address.LastIndexOf(':') + 1), CultureInfo.InvariantCulture);

    private static IPEndPoint EndPoint(string address, int portOffset)
    {
        var colon = address.LastIndexOf(':');
        var host = address[..colon].Trim('[', ']');
        var port = ListenPort(address) + portOffset;
        if (IPAddress.TryParse(host, out var ip))
        {
            return new IPEndPoint(ip, port);
        }

        return new IPEndPoint(host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Any, port);
    }
}
