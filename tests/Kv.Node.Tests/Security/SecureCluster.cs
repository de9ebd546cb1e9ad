using System.Security.Cryptography.X509Certificates;
using Kv.Client.Security;
using Kv.Client.Transport;
using Kv.Node.Tests.Cluster;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Security;

/// <summary>
/// A secure in-process cluster: a CA made with the code kvctl cert uses (KvCertificates), one
/// node certificate per node written to PEM files and passed as --tls-cert/--tls-key/--tls-client-ca,
/// and admin/client certificates for callers. Bootstrapped over mutual TLS with the admin certificate.
/// </summary>
internal sealed class SecureCluster : IAsyncDisposable
{
    private readonly TempDirectory dir = new();

    public SecureCluster(int nodes, bool checkRoles = true)
    {
        Authority = KvCertificates.CreateAuthority("kv secure test CA", TimeSpan.FromDays(2), DateTimeOffset.UtcNow.AddDays(-3));
        CaPath = dir.Sub("ca.crt");
        KvCertificates.WritePem(Authority, CaPath, null);
        Admin = KvCertificates.IssueClient(Authority, "test-admin", KvRole.Admin);
        Client = KvCertificates.IssueClient(Authority, "test-app", KvRole.Client);
        Cluster = new InProcessCluster(nodes, placementMembers: nodes)
        {
            Configure = (i, config) =>
            {
                var cert = dir.Sub($"node{i + 1}.crt");
                var key = dir.Sub($"node{i + 1}.key");
                if (!File.Exists(cert))
                {
                    using var node = KvCertificates.IssueNode(Authority, ["127.0.0.1", "localhost"]);
                    KvCertificates.WritePem(node, cert, key);
                }

                return config with { TlsCert = cert, TlsKey = key, TlsClientCa = CaPath };
            },
            BeforeStart = (_, host) => host.CheckRoles = checkRoles,
            ChannelOptions = Options(Admin),
        };
    }

    public InProcessCluster Cluster { get; }

    public X509Certificate2 Authority { get; }

    public string CaPath { get; }

    public X509Certificate2 Admin { get; }

    public X509Certificate2 Client { get; }

    /// <summary>Channel settings that trust the cluster CA and present <paramref name="certificate"/>.</summary>
    public KvChannelOptions Options(X509Certificate2? certificate, Func<string>? clusterId = null) =>
        new() { TrustedRoot = Authority, ClientCertificate = certificate, ClusterId = clusterId };

    /// <summary>The stubs of node <paramref name="i"/> (0-based) over a new channel with <paramref name="options"/>; the caller disposes them.</summary>
    public NodeStubs Stubs(int i, KvChannelOptions options) => new(KvChannels.ForHostPort(Cluster.Addresses[i], options));

    public async Task<string> StartAndBootstrapAsync()
    {
        await Cluster.StartAsync();
        var boot = await Cluster.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await Cluster.WaitForRangeLeaderAsync(1);
        return boot.Header.ClusterId;
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Admin.Dispose();
        Client.Dispose();
        Authority.Dispose();
        dir.Dispose();
    }
}
