using System.Security.Cryptography.X509Certificates;

namespace Kv.Client.Security;

/// <summary>
/// What a certificate's holder may call (DESIGN.md section 10). The role is written in the
/// certificate's subject as exactly one organizational unit, <c>OU=kv-role:node</c>,
/// <c>OU=kv-role:admin</c> or <c>OU=kv-role:client</c>: visible to <c>openssl x509 -subject</c>,
/// signed by the CA like the rest of the subject, and issued by any CA tooling, not only kvctl.
/// </summary>
public enum KvRole
{
    /// <summary>No role, or an unreadable one: such a certificate may call nothing.</summary>
    None,

    /// <summary>Another node of the cluster: Raft, snapshots, placement internals.</summary>
    Node,

    /// <summary>An operator: operations, stores, GC, in-doubt resolution, backups; also KV.</summary>
    Admin,

    /// <summary>An application: KV and transactions.</summary>
    Client,
}

/// <summary>Reads and writes the role of <see cref="KvRole"/> in a certificate subject.</summary>
public static class KvRoles
{
    /// <summary>The prefix of the OU value that carries the role.</summary>
    public const string OuPrefix = "kv-role:";

    private const string OrganizationalUnitOid = "2.5.4.11";

    /// <summary>"node", "admin" or "client".</summary>
    public static string Name(KvRole role) => role switch
    {
        KvRole.Node => "node",
        KvRole.Admin => "admin",
        KvRole.Client => "client",
        _ => "none",
    };

    /// <summary>The role named "node", "admin" or "client" (any case); null for anything else.</summary>
    public static KvRole? Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        "node" => KvRole.Node,
        "admin" => KvRole.Admin,
        "client" => KvRole.Client,
        _ => null,
    };

    /// <summary>
    /// The role a certificate's subject carries; <see cref="KvRole.None"/> when it has no
    /// <c>OU=kv-role:...</c>, an unknown one, or more than one (an ambiguous certificate gets nothing).
    /// </summary>
    public static KvRole Of(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var found = KvRole.None;
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (rdn.HasMultipleElements || rdn.GetSingleElementType().Value != OrganizationalUnitOid)
            {
                continue;
            }

            var value = rdn.GetSingleElementValue();
            if (value is null || !value.StartsWith(OuPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            if (found != KvRole.None || Parse(value[OuPrefix.Length..]) is not { } role)
            {
                return KvRole.None;
            }

            found = role;
        }

        return found;
    }
}
