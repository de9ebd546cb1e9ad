using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Kv.Client.Transport;

/// <summary>Validation of a peer certificate against a private root instead of the system store.</summary>
public static class CertificateTrust
{
    /// <summary>
    /// True when <paramref name="certificate"/> chains to <paramref name="root"/> and had no
    /// errors other than an untrusted chain (so a host-name mismatch or a missing certificate
    /// still fails). Revocation is not checked: a private CA here publishes no CRL.
    /// </summary>
    public static bool ChainsTo(X509Certificate2 root, X509Certificate? certificate, X509Chain? presentedChain, SslPolicyErrors errors)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presentedChain is not null)
        {
            foreach (var element in presentedChain.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        // Only dispose what we create: the certificate passed in belongs to the caller.
        var leaf = certificate as X509Certificate2;
        var created = leaf is null;
#pragma warning disable CA2000 // disposed below when created here
        leaf ??= new X509Certificate2(certificate);
#pragma warning restore CA2000
        try
        {
            return chain.Build(leaf);
        }
        finally
        {
            if (created)
            {
                leaf.Dispose();
            }
        }
    }
}
