using System.Security.Cryptography.X509Certificates;
using Kv.Client.Security;

namespace Kv.Cli.Tests;

/// <summary>kvctl cert create-ca|create-node|create-client: files, key permissions, roles, refusals.</summary>
public sealed class CertCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kvctl-cert-tests", Guid.NewGuid().ToString("N"));

    [Fact]
    public void Create_ca_node_and_client_write_PEM_files_with_private_keys_and_roles()
    {
        Assert.Equal(ExitCodes.Ok, Run("cert", "create-ca", "--dir", _dir));
        Assert.Equal(ExitCodes.Ok, Run("cert", "create-node", "--dir", _dir, "--name", "node1", "--host", "127.0.0.1,localhost"));
        Assert.Equal(ExitCodes.Ok, Run("cert", "create-client", "--dir", _dir, "--role", "admin"));

        using var ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(_dir, "ca.crt"));
        using var node = KvCertificates.LoadWithKey(Path.Combine(_dir, "node1.crt"), Path.Combine(_dir, "node1.key"));
        using var admin = KvCertificates.LoadWithKey(Path.Combine(_dir, "admin.crt"), Path.Combine(_dir, "admin.key"));
        Assert.Equal(KvRole.Node, KvRoles.Of(node));
        Assert.Equal(KvRole.Admin, KvRoles.Of(admin));
        Assert.True(Kv.Client.Transport.CertificateTrust.ChainsTo(ca, admin, null, System.Net.Security.SslPolicyErrors.None));
        if (!OperatingSystem.IsWindows())
        {
            foreach (var key in new[] { "ca.key", "node1.key", "admin.key" })
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, key)));
            }
        }
    }

    [Fact]
    public void Existing_files_are_kept_unless_force_and_a_missing_CA_is_named()
    {
        var stderr = new StringWriter();
        Assert.Equal(ExitCodes.Failed, KvctlApp.Run(["cert", "create-client", "--dir", _dir, "--role", "client"], new StringWriter(), stderr));
        Assert.Contains("kvctl cert create-ca --dir", stderr.ToString(), StringComparison.Ordinal);

        Assert.Equal(ExitCodes.Ok, Run("cert", "create-ca", "--dir", _dir));
        stderr = new StringWriter();
        Assert.Equal(ExitCodes.Failed, KvctlApp.Run(["cert", "create-ca", "--dir", _dir], new StringWriter(), stderr));
        Assert.Contains("--force", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Ok, Run("cert", "create-ca", "--dir", _dir, "--force"));
    }

    [Fact]
    public void A_client_role_other_than_admin_or_client_is_a_usage_error()
    {
        Assert.Equal(ExitCodes.Usage, KvctlApp.Run(["cert", "create-client", "--dir", _dir, "--role", "node"], new StringWriter(), new StringWriter()));
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static int Run(params string[] args) => KvctlApp.Run(args, new StringWriter(), new StringWriter());
}
