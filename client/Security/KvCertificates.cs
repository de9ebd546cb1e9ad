using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kv.Client.Security;

/// <summary>
/// Makes a private CA and the certificates of a cluster for local use (<c>kvctl cert</c>,
/// <c>kvctl local up --secure</c>, tests), with .NET's <see cref="CertificateRequest"/>: ECDSA
/// P-256 keys, SHA-256 signatures. Node certificates serve and dial (server and client
/// authentication, the node's host names and addresses as SANs) with role <c>node</c>; client
/// certificates carry <c>admin</c> or <c>client</c> (<see cref="KvRoles"/>). Files are PEM; a
/// private key file is created readable by its owner only (0600) before any key byte is written.
/// Production clusters may use any CA that writes the same subject OU.
/// </summary>
public static class KvCertificates
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    /// <summary>A self-signed CA certificate (with its private key) valid from now (less 5 minutes of clock skew) for <paramref name="validity"/>.</summary>
    public static X509Certificate2 CreateAuthority(string name, TimeSpan validity, DateTimeOffset? notBefore = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(name)}, O=kv"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var created = request.CreateSelfSigned(notBefore ?? now.AddMinutes(-5), now + validity);
        return Usable(created);
    }

    /// <summary>
    /// A node certificate (role node) for <paramref name="hosts"/> (DNS names or IP addresses; the
    /// first is its common name), signed by <paramref name="authority"/>. Validity defaults to one year,
    /// cut to the CA's own end.
    /// </summary>
    public static X509Certificate2 IssueNode(X509Certificate2 authority, IReadOnlyList<string> hosts, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        if (hosts.Count == 0 || hosts.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("a node certificate needs at least one host name or IP address (the addresses peers and clients dial)", nameof(hosts));
        }

        var san = new SubjectAlternativeNameBuilder();
        foreach (var host in hosts)
        {
            if (IPAddress.TryParse(host, out var ip))
            {
                san.AddIpAddress(ip);
            }
            else
            {
                san.AddDnsName(host);
            }
        }

        return Issue(authority, hosts[0], KvRole.Node, [ServerAuth, ClientAuth], san, notBefore, notAfter);
    }

    /// <summary>A client certificate with role admin or client for <paramref name="name"/> (its common name; audit logs may show it).</summary>
    public static X509Certificate2 IssueClient(X509Certificate2 authority, string name, KvRole role, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        if (role is not (KvRole.Admin or KvRole.Client))
        {
            throw new ArgumentException($"a client certificate has role admin or client, not {KvRoles.Name(role)} (node certificates come from IssueNode)", nameof(role));
        }

        return Issue(authority, name, role, [ClientAuth], null, notBefore, notAfter);
    }

    /// <summary>
    /// Writes the certificate as PEM to <paramref name="certificatePath"/> and, when
    /// <paramref name="keyPath"/> is given, its private key (PKCS#8 PEM) to a file created with
    /// mode 0600. Refuses to overwrite an existing file unless <paramref name="overwrite"/>.
    /// </summary>
    public static void WritePem(X509Certificate2 certificate, string certificatePath, string? keyPath, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        string? keyPem = null;
        if (keyPath is not null)
        {
            using var key = certificate.GetECDsaPrivateKey()
                ?? throw new ArgumentException("the certificate has no ECDSA private key to write", nameof(certificate));
            keyPem = key.ExportPkcs8PrivateKeyPem();
            WriteFile(keyPath, keyPem, secret: true, overwrite);
        }

        WriteFile(certificatePath, certificate.ExportCertificatePem() + "\n", secret: false, overwrite);
    }

    /// <summary>
    /// Loads a certificate and its private key from PEM files (the key may also be in the
    /// certificate file). Throws <see cref="KvCertificateException"/> naming the file and what to do.
    /// </summary>
    public static X509Certificate2 LoadWithKey(string certificatePath, string keyPath)
    {
        Readable(certificatePath, "certificate");
        Readable(keyPath, "private key");
        try
        {
            using var loaded = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            return Usable(loaded);
        }
        catch (CryptographicException e)
        {
            throw new KvCertificateException($"'{certificatePath}' and '{keyPath}' are not a PEM certificate and its matching private key ({e.Message}); give the files `kvctl cert create-*` wrote", e);
        }
    }

    /// <summary>Loads a certificate (a CA, usually) from a PEM or DER file, without a key.</summary>
    public static X509Certificate2 LoadCertificate(string path)
    {
        Readable(path, "certificate");
        try
        {
            return X509CertificateLoader.LoadCertificateFromFile(path);
        }
        catch (CryptographicException e)
        {
            throw new KvCertificateException($"'{path}' is not a PEM or DER certificate ({e.Message}); give the CA certificate file (ca.crt from `kvctl cert create-ca`)", e);
        }
    }

    private static void Readable(string path, string what)
    {
        try
        {
            using var _ = File.OpenRead(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new KvCertificateException($"the {what} file '{path}' cannot be read: {e.Message}", e);
        }
    }

    private static X509Certificate2 Issue(X509Certificate2 authority, string name, KvRole role, Oid[] usages, SubjectAlternativeNameBuilder? san, DateTimeOffset? notBefore, DateTimeOffset? notAfter)
    {
        ArgumentNullException.ThrowIfNull(authority);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!authority.HasPrivateKey)
        {
            throw new ArgumentException("the CA certificate has no private key: load it with its key (ca.key) to sign", nameof(authority));
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedName($"CN={Escape(name)}, OU={KvRoles.OuPrefix}{KvRoles.Name(role)}, O=kv");
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([.. usages], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        if (san is not null)
        {
            request.CertificateExtensions.Add(san.Build());
        }

        var now = DateTimeOffset.UtcNow;
        var from = notBefore ?? now.AddMinutes(-5);
        var until = notAfter ?? now.AddYears(1);
        var caEnd = new DateTimeOffset(authority.NotAfter.ToUniversalTime());
        if (until > caEnd)
        {
            until = caEnd; // a certificate may not outlive its issuer
        }

        var caStart = new DateTimeOffset(authority.NotBefore.ToUniversalTime());
        if (from < caStart)
        {
            from = caStart;
        }

        if (from >= until)
        {
            throw new ArgumentException($"the certificate would be valid from {from:u} to {until:u}, which is empty (the CA is valid {caStart:u} to {caEnd:u})");
        }

        var serial = new byte[12];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7F; // a positive serial number
        using var issued = request.Create(authority, from, until, serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return Usable(withKey);
    }

    /// <summary>A round trip through PKCS#12, so SslStream gets a certificate whose key it can use on every platform.</summary>
    private static X509Certificate2 Usable(X509Certificate2 certificate) =>
        X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);

    private static string Escape(string value) =>
        value.IndexOfAny([',', '+', '"', '\\', '<', '>', ';', '=']) >= 0 ? "\"" + value.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"" : value;

    private static void WriteFile(string path, string text, bool secret, bool overwrite)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var options = new FileStreamOptions { Mode = overwrite ? FileMode.Create : FileMode.CreateNew, Access = FileAccess.Write };
        if (secret && !OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var stream = new FileStream(full, options);
            if (secret && !OperatingSystem.IsWindows())
            {
                // An existing file keeps its mode on overwrite; make sure a key is never group- or world-readable.
                File.SetUnixFileMode(full, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            using var writer = new StreamWriter(stream);
            writer.Write(text);
        }
        catch (IOException e) when (!overwrite && File.Exists(full))
        {
            throw new KvCertificateException($"'{full}' already exists; remove it or pass --force to replace it", e);
        }
    }
}

/// <summary>A certificate or key file that cannot be used; the message names the file and what to do.</summary>
public sealed class KvCertificateException : Exception
{
    public KvCertificateException(string message)
        : base(message)
    {
    }

    public KvCertificateException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public KvCertificateException()
    {
    }
}
