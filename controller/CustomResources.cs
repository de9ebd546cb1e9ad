namespace Kv.Operator;

/// <summary>
/// The custom resource kinds the operator owns (shared/DESIGN.md section 9). Names follow
/// Kubernetes conventions: the plural is the lower-case kind plus "s", the CRD name is
/// plural.group.
/// </summary>
internal static class CustomResources
{
    public const string Group = "kv.controlplane.io";
    public const string Version = "v1alpha1";
    public const string ApiVersion = Group + "/" + Version;

    public static readonly IReadOnlyList<string> Kinds = ["KvCluster", "KvBackup", "KvRestore", "KvOperation"];

    public static string Plural(string kind) => kind.ToLowerInvariant() + "s";

    public static string CrdName(string kind) => Plural(kind) + "." + Group;
}
