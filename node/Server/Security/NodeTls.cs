using System.Security.Cryptography.X509Certificates;
using Kv.Client.Security;
using Kv.Client.Transport;
using Kv.Node.Server.Configuration;

namespace Kv.Node.Server.Security;

/// <summary>
/// A secure node's certificates, loaded once at start from --tls-cert, --tls-key and
/// --tls-client-ca. The node certificate serves (Kestrel) and dials peers (every channel the node
/// opens: placement, Raft, snapshots, operation steps), and peers' server certificates must chain
/// to the cluster CA only. A file that cannot be used stops the node before it serves, with a
/// message naming the flag.
/// </summary>
internal sealed class NodeTls : IDisposable
{
    private NodeTls(X509Certificate2 certificate, X509Certificate2 authority)
    {
        Certificate = certificate;
        Authority = authority;
    }

    /// <summary>This node's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The cluster CA.</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>The certificates of a secure configuration; null for a cleartext one.</summary>
    public static NodeTls? Load(NodeConfig config)
    {
        if (!config.Secure)
        {
            return null;
        }

        X509Certificate2 authority;
        try
        {
            authority = KvCertificates.LoadCertificate(config.TlsClientCa!);
        }
        catch (KvCertificateException e)
        {
            throw new NodeConfigException($"--tls-client-ca: {e.Message}", e);
        }

        X509Certificate2 certificate;
        try
        {
            certificate = KvCertificates.LoadWithKey(config.TlsCert!, config.TlsKey!);
        }
        catch (KvCertificateException e)
        {
            authority.Dispose();
            throw new NodeConfigException($"--tls-cert/--tls-key: {e.Message}", e);
        }

        var role = KvRoles.Of(certificate);
        if (role != KvRole.Node)
        {
            var subject = certificate.Subject;
            certificate.Dispose();
            authority.Dispose();
            throw new NodeConfigException($"--tls-cert '{config.TlsCert}' ({subject}) has role {KvRoles.Name(role)}, but a node needs a node certificate (OU={KvRoles.OuPrefix}node): make one with `kvctl cert create-node`");
        }

        if (!CertificateTrust.ChainsTo(authority, certificate, null, System.Net.Security.SslPolicyErrors.None))
        {
            var subject = certificate.Subject;
            certificate.Dispose();
            authority.Dispose();
            throw new NodeConfigException($"--tls-cert '{config.TlsCert}' ({subject}) is not signed by the CA of --tls-client-ca '{config.TlsClientCa}' (or has expired): the node's peers would refuse it; issue it from that CA with `kvctl cert create-node`");
        }

        return new NodeTls(certificate, authority);
    }

    /// <summary>Settings of the channels this node opens to its peers.</summary>
    public KvChannelOptions PeerChannel(Func<string> clusterId) => new()
    {
        ClientCertificate = Certificate,
        TrustedRoot = Authority,
        ClusterId = clusterId,
    };

    public void Dispose()
    {
        Certificate.Dispose();
        Authority.Dispose();
    }
}
