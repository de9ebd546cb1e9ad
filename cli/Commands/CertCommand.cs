using System.CommandLine;
using System.Globalization;
using Kv.Client.Security;

namespace Kv.Cli.Commands;

/// <summary>
/// <c>kvctl cert create-ca|create-node|create-client</c>: a private CA and the certificates of a
/// cluster, for local use and tests (KvCertificates; docs/SECURITY.md). Everything lives in one
/// directory (--dir): ca.crt and ca.key, then NAME.crt and NAME.key per certificate; keys are
/// written mode 0600, and existing files are kept unless --force.
/// </summary>
internal static class CertCommand
{
    public const string CaCertificateFile = "ca.crt";
    public const string CaKeyFile = "ca.key";

    public static Command Build(TextWriter stdout)
    {
        var cert = new Command("cert", "Make a private CA and node and client certificates for a secure cluster (local use)");
        cert.Subcommands.Add(BuildCreateCa(stdout));
        cert.Subcommands.Add(BuildCreateNode(stdout));
        cert.Subcommands.Add(BuildCreateClient(stdout));
        return cert;
    }

    private static Option<string> DirOption() => new("--dir")
    {
        Description = "Directory of the CA (ca.crt, ca.key) and the certificates made from it",
        DefaultValueFactory = _ => "certs",
    };

    private static Option<int> DaysOption(int days) => new("--days")
    {
        Description = $"Days the certificate is valid (default {days}; never past the CA's end)",
        DefaultValueFactory = _ => days,
    };

    private static Option<bool> ForceOption() => new("--force") { Description = "Replace existing files" };

    private static Command BuildCreateCa(TextWriter stdout)
    {
        var dir = DirOption();
        var name = new Option<string>("--name") { Description = "The CA's common name", DefaultValueFactory = _ => "kv cluster CA" };
        var days = DaysOption(3650);
        var force = ForceOption();
        var command = new Command("create-ca", "Make a CA: DIR/ca.crt (give it to every node as --tls-client-ca, and to clients as --ca) and DIR/ca.key (keep it secret)");
        command.Options.Add(dir);
        command.Options.Add(name);
        command.Options.Add(days);
        command.Options.Add(force);
        command.SetAction(parse => CreateCa(parse.GetValue(dir)!, parse.GetValue(name)!, parse.GetValue(days), parse.GetValue(force), stdout, parse.InvocationConfiguration.Error));
        return command;
    }

    private static Command BuildCreateNode(TextWriter stdout)
    {
        var dir = DirOption();
        var name = new Option<string>("--name") { Description = "File name (NAME.crt, NAME.key)", DefaultValueFactory = _ => "node" };
        var hosts = new Option<string>("--host") { Description = "Comma-separated host names and IP addresses peers and clients dial (the first is the common name)", DefaultValueFactory = _ => "127.0.0.1,localhost" };
        var days = DaysOption(365);
        var force = ForceOption();
        var command = new Command("create-node", "Make a node certificate (role node) signed by DIR's CA: give it to kv-node serve as --tls-cert and --tls-key");
        command.Options.Add(dir);
        command.Options.Add(name);
        command.Options.Add(hosts);
        command.Options.Add(days);
        command.Options.Add(force);
        command.SetAction(parse => Issue(parse.GetValue(dir)!, parse.GetValue(name)!, KvRole.Node, parse.GetValue(hosts)!, parse.GetValue(days), parse.GetValue(force), stdout, parse.InvocationConfiguration.Error));
        return command;
    }

    private static Command BuildCreateClient(TextWriter stdout)
    {
        var dir = DirOption();
        var role = new Option<string>("--role") { Description = "admin (operations, stores, GC, transactions, backups; also keys) or client (keys and transactions)", Required = true };
        role.AcceptOnlyFromAmong("admin", "client");
        var name = new Option<string?>("--name") { Description = "Common name and file name (NAME.crt, NAME.key); default: the role" };
        var days = DaysOption(365);
        var force = ForceOption();
        var command = new Command("create-client", "Make a client certificate with role admin or client, signed by DIR's CA: kvctl --cert/--key, Connect-KvCluster -ClientCertificate/-ClientKey");
        command.Options.Add(dir);
        command.Options.Add(role);
        command.Options.Add(name);
        command.Options.Add(days);
        command.Options.Add(force);
        command.SetAction(parse =>
        {
            var r = parse.GetValue(role)!;
            return Issue(parse.GetValue(dir)!, parse.GetValue(name) ?? r, KvRoles.Parse(r)!.Value, null, parse.GetValue(days), parse.GetValue(force), stdout, parse.InvocationConfiguration.Error);
        });
        return command;
    }

    internal static int CreateCa(string dir, string name, int days, bool force, TextWriter stdout, TextWriter stderr)
    {
        if (days < 1)
        {
            stderr.WriteLine($"error: --days must be at least 1, not {days}");
            return ExitCodes.Usage;
        }

        try
        {
            using var ca = KvCertificates.CreateAuthority(name, TimeSpan.FromDays(days));
            KvCertificates.WritePem(ca, Path.Combine(dir, CaCertificateFile), Path.Combine(dir, CaKeyFile), force);
            stdout.WriteLine($"wrote {Path.GetFullPath(Path.Combine(dir, CaCertificateFile))} and {Path.GetFullPath(Path.Combine(dir, CaKeyFile))} (mode 0600); valid until {ca.NotAfter.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture)}");
            return ExitCodes.Ok;
        }
        catch (KvCertificateException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
    }

    internal static int Issue(string dir, string name, KvRole role, string? hosts, int days, bool force, TextWriter stdout, TextWriter stderr)
    {
        if (days < 1)
        {
            stderr.WriteLine($"error: --days must be at least 1, not {days}");
            return ExitCodes.Usage;
        }

        if (name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name is "ca" or "." or "..")
        {
            stderr.WriteLine($"error: --name '{name}' cannot name a file in {dir}; use letters, digits, - and _");
            return ExitCodes.Usage;
        }

        try
        {
            using var ca = KvCertificates.LoadWithKey(Path.Combine(dir, CaCertificateFile), Path.Combine(dir, CaKeyFile));
            var until = DateTimeOffset.UtcNow.AddDays(days);
            using var issued = role == KvRole.Node
                ? KvCertificates.IssueNode(ca, (hosts ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), notAfter: until)
                : KvCertificates.IssueClient(ca, name, role, notAfter: until);
            var certPath = Path.Combine(dir, name + ".crt");
            var keyPath = Path.Combine(dir, name + ".key");
            KvCertificates.WritePem(issued, certPath, keyPath, force);
            stdout.WriteLine($"wrote {Path.GetFullPath(certPath)} and {Path.GetFullPath(keyPath)} (mode 0600): role {KvRoles.Name(role)}, subject {issued.Subject}, valid until {issued.NotAfter.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture)}");
            return ExitCodes.Ok;
        }
        catch (KvCertificateException e)
        {
            stderr.WriteLine($"error: {e.Message}{(File.Exists(Path.Combine(dir, CaCertificateFile)) ? string.Empty : $" (make the CA first: kvctl cert create-ca --dir {dir})")}");
            return ExitCodes.Failed;
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Usage;
        }
    }
}
