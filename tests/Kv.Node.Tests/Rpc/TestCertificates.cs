using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kv.Node.Tests.Rpc;

/// <summary>
/// A private CA with a server certificate for 127.0.0.1/localhost and a client certificate,
/// made fresh per test run (nothing on disk, nothing trusted system-wide).
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    public TestCertificates(string caName = "kv test CA")
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN={caName}", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Authority = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        Server = Issue("CN=127.0.0.1", serverAuth: true);
        Client = Issue("CN=kv-test-client", serverAuth: false);
    }

    public X509Certificate2 Authority { get; }

    public X509Certificate2 Server { get; }

    public X509Certificate2 Client { get; }

    public void Dispose()
    {
        Authority.Dispose();
        Server.Dispose();
        Client.Dispose();
    }

    private X509Certificate2 Issue(string subject, bool serverAuth)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [serverAuth ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (serverAuth)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            san.AddDnsName("localhost");
            request.CertificateExtensions.Add(san.Build());
        }

        var serial = new byte[8];
        RandomNumberGenerator.Fill(serial);
        // Inside the CA's validity (a later UtcNow could overshoot the CA's notAfter).
        using var issued = request.Create(Authority, Authority.NotBefore.ToUniversalTime(), Authority.NotAfter.ToUniversalTime().AddMinutes(-1), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        // Round-trip through PKCS#12 so SslStream gets a certificate with a usable private key.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>PEM of a certificate, for peers that take files (grpc-js).</summary>
    public static string Pem(X509Certificate2 certificate) => certificate.ExportCertificatePem();

    /// <summary>PEM of a certificate's private key.</summary>
    public static string KeyPem(X509Certificate2 certificate) =>
        certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();
}
