using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Kv.Client.Security;
using Kv.Client.Transport;
using Microsoft.AspNetCore.Http;

namespace Kv.Node.Server.Security;

/// <summary>
/// The one check every call to a secure node passes before any handler runs (GrpcServer calls
/// it from a middleware, so no service can forget it):
/// 1. the connection is TLS with a client certificate (else UNAUTHENTICATED);
/// 2. the certificate is within its validity and chains to the cluster CA given to
///    <c>--tls-client-ca</c>, never the system store (else UNAUTHENTICATED);
/// 3. its role (<see cref="KvRoles"/>) is one <see cref="ServiceRoles"/> allows for the method
///    (else PERMISSION_DENIED);
/// 4. a node-to-node call that names its cluster (the <c>kv-cluster-id</c> header) names this
///    node's cluster (else PERMISSION_DENIED).
/// The TLS handshake itself accepts any client certificate: refusing there would reach the
/// caller as a broken connection with no reason, while a refusal here is a gRPC status whose
/// message says what was wrong and what to do. Nothing is routed to a handler before the check
/// passes, so a refused call changes nothing.
/// </summary>
internal sealed class CallAuthorizer(X509Certificate2 authority, Func<string> clusterId, TimeProvider time)
{
    // The chain check is per certificate instance (one per TLS connection), not per call.
    private readonly ConditionalWeakTable<X509Certificate2, object> chained = new();

    /// <summary>
    /// False only in tests: skips step 3 (roles) so a test can show that the wrong-role refusal
    /// comes from this check (a negative control). Never set from configuration.
    /// </summary>
    internal bool CheckRoles { get; init; } = true;

    /// <summary>Null when the call may proceed; else the status to end it with.</summary>
    public Status? Check(HttpContext context, string service, string method)
    {
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.ITlsConnectionFeature>() is null)
        {
            return new Status(StatusCode.Unauthenticated,
                "this node accepts mutual TLS only, and the call came over plaintext: dial https:// with the cluster CA and a client certificate (kvctl --ca/--cert/--key, or the kvctl context `kvctl local up --secure` writes)");
        }

        var certificate = context.Connection.ClientCertificate;
        if (certificate is null)
        {
            return new Status(StatusCode.Unauthenticated,
                "this node requires a client certificate and the call presented none: pass a certificate signed by the cluster CA (kvctl --cert/--key; make one with `kvctl cert create-client --role client|admin`)");
        }

        var now = time.GetUtcNow().UtcDateTime;
        if (certificate.NotAfter.ToUniversalTime() < now)
        {
            return new Status(StatusCode.Unauthenticated,
                $"the client certificate '{certificate.Subject}' expired at {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC: issue a new one from the cluster CA (`kvctl cert create-client` or `create-node`) and reconnect with it");
        }

        if (certificate.NotBefore.ToUniversalTime() > now)
        {
            return new Status(StatusCode.Unauthenticated,
                $"the client certificate '{certificate.Subject}' is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC: check this machine's clock and the caller's, or issue a certificate valid now");
        }

        if (!chained.TryGetValue(certificate, out _))
        {
            if (!CertificateTrust.ChainsTo(authority, certificate, null, System.Net.Security.SslPolicyErrors.None))
            {
                return new Status(StatusCode.Unauthenticated,
                    $"the client certificate '{certificate.Subject}' (issued by '{certificate.Issuer}') does not chain to this cluster's CA '{authority.Subject}': present a certificate signed by the CA the nodes were given with --tls-client-ca");
            }

            chained.AddOrUpdate(certificate, true);
        }

        var role = KvRoles.Of(certificate);
        var allowed = ServiceRoles.Allowed(service, method);
        if (CheckRoles && !allowed.Contains(role))
        {
            var needs = allowed.Count == 0 ? "no role (it is not open to any certificate)" : "role " + string.Join(" or ", allowed.Select(KvRoles.Name));
            var advice = allowed.Contains(KvRole.Admin) ? "use an admin certificate (`kvctl cert create-client --role admin`)"
                : allowed.Contains(KvRole.Node) ? "only the cluster's nodes call it, with their node certificates"
                : "use a certificate with one of those roles";
            var has = role == KvRole.None ? $"carries no role (a subject OU of {KvRoles.OuPrefix}node, admin or client)" : $"has role {KvRoles.Name(role)}";
            return new Status(StatusCode.PermissionDenied, $"{service}/{method} needs {needs}, but the certificate '{certificate.Subject}' {has}: {advice}");
        }

        if (ServiceRoles.IsNodeToNode(service, method)
            && context.Request.Headers[KvChannels.ClusterIdHeader].ToString() is { Length: > 0 } theirs
            && clusterId() is { Length: > 0 } ours
            && !string.Equals(ours, theirs, StringComparison.Ordinal))
        {
            return new Status(StatusCode.PermissionDenied,
                $"this node belongs to cluster {ours}, but the caller '{certificate.Subject}' belongs to cluster {theirs}: a node of another cluster is dialling this one; check that node's --join addresses (clusters that share a CA must not share addresses)");
        }

        return null;
    }

    /// <summary>gRPC's percent-encoding of grpc-message: bytes outside printable ASCII, and '%', as %XX.</summary>
    internal static string EncodeMessage(string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        var builder = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}
