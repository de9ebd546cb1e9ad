using Kv.Cli.Commands;
using Kv.Client.Security;

namespace Kv.Cli.Local;

/// <summary>
/// The certificates of a secure local cluster (<c>kvctl local up --secure</c>), in DIR/certs:
/// the CA (ca.crt, ca.key), one node certificate all local nodes share (node.crt, node.key for
/// 127.0.0.1 and localhost) and an admin client certificate (admin.crt, admin.key) that the
/// kvctl context carries. Made the first time, kept after (a restart keeps its certificates).
/// </summary>
internal static class LocalCertificates
{
    public static string Ca(string certs) => Path.Combine(certs, CertCommand.CaCertificateFile);

    public static string NodeCertificate(string certs) => Path.Combine(certs, "node.crt");

    public static string NodeKey(string certs) => Path.Combine(certs, "node.key");

    public static string AdminCertificate(string certs) => Path.Combine(certs, "admin.crt");

    public static string AdminKey(string certs) => Path.Combine(certs, "admin.key");

    /// <summary>Makes whichever of the CA, node and admin certificates is missing.</summary>
    public static void Ensure(string certs)
    {
        Directory.CreateDirectory(certs);
        var caKey = Path.Combine(certs, CertCommand.CaKeyFile);
        if (!File.Exists(Ca(certs)))
        {
            using var created = KvCertificates.CreateAuthority("kv local cluster CA", TimeSpan.FromDays(3650));
            KvCertificates.WritePem(created, Ca(certs), caKey, overwrite: true);
        }

        using var ca = KvCertificates.LoadWithKey(Ca(certs), caKey);
        if (!File.Exists(NodeCertificate(certs)) || !File.Exists(NodeKey(certs)))
        {
            using var node = KvCertificates.IssueNode(ca, ["127.0.0.1", "localhost"]);
            KvCertificates.WritePem(node, NodeCertificate(certs), NodeKey(certs), overwrite: true);
        }

        if (!File.Exists(AdminCertificate(certs)) || !File.Exists(AdminKey(certs)))
        {
            using var admin = KvCertificates.IssueClient(ca, "local-admin", KvRole.Admin);
            KvCertificates.WritePem(admin, AdminCertificate(certs), AdminKey(certs), overwrite: true);
        }
    }
}
