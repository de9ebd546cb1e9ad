using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kv.Cli.Context;

/// <summary>
/// Where kvctl sends requests when no <c>--endpoint</c> is given, like kubectl's kubeconfig
/// context: <c>kvctl local up</c> writes it, every other command reads it. The file is JSON
/// (<c>apiVersion: kvctl/v1</c>); its path is <c>$KVCTL_CONTEXT</c>, else
/// <c>~/.kv/kvctl-context.json</c>.
/// </summary>
internal sealed record KvctlContext
{
    public const string CurrentApiVersion = "kvctl/v1";

    public string ApiVersion { get; init; } = CurrentApiVersion;

    /// <summary>host:port of the nodes; any of them will do, the client finds the leaders.</summary>
    public required IReadOnlyList<string> Endpoints { get; init; }

    /// <summary>The CA certificate (PEM) the nodes' certificates chain to; set: dial TLS and trust only it.</summary>
    public string? CaCertificate { get; init; }

    /// <summary>The client certificate (PEM) presented for mutual TLS; its role decides what kvctl may do.</summary>
    public string? ClientCertificate { get; init; }

    /// <summary>The private key (PEM) of <see cref="ClientCertificate"/>.</summary>
    public string? ClientKey { get; init; }

    /// <summary>The data directory of the embedded local cluster that wrote this context, if any.</summary>
    public string? LocalDir { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string DefaultPath =>
        Environment.GetEnvironmentVariable("KVCTL_CONTEXT") is { Length: > 0 } path
            ? path
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kv", "kvctl-context.json");

    /// <summary>The context at path, or null when there is none. A file that is not a valid context is an error naming the file.</summary>
    public static KvctlContext? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        KvctlContext? context;
        try
        {
            context = JsonSerializer.Deserialize<KvctlContext>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"kvctl context file '{path}' is not valid JSON ({e.Message}); fix or delete it, or pass --endpoint", e);
        }

        if (context is null || context.ApiVersion != CurrentApiVersion || context.Endpoints is not { Count: > 0 })
        {
            throw new InvalidDataException($"kvctl context file '{path}' is not a {CurrentApiVersion} context with endpoints; fix or delete it, or pass --endpoint");
        }

        return context;
    }

    /// <summary>Writes atomically (temp file, then rename) so a crash never leaves half a context.</summary>
    public static void Save(string path, KvctlContext context)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(context, Json));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// The endpoints a command should use: the <c>--endpoint</c> value (comma-separated) when
    /// given, else the context file's. Null when neither exists (the caller says how to fix it).
    /// </summary>
    public static IReadOnlyList<string>? ResolveEndpoints(string? endpointOption, string? contextPath = null)
    {
        if (!string.IsNullOrWhiteSpace(endpointOption))
        {
            return endpointOption.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        return Load(contextPath ?? DefaultPath)?.Endpoints;
    }
}
