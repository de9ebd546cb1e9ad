using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Kv.Node.Tests.Architecture;

/// <summary>
/// The dependency rules of shared/DESIGN.md section 2, as a pure checker over source text and
/// project files (so each rule can be shown to catch a broken variant without a broken tree):
/// <list type="bullet">
/// <item>projects: cli, module, controller -> client -> proto; node -> client, proto; tests and
/// bench may reference anything;</item>
/// <item>inside node, by folder: Raft names nothing but the BCL; Storage knows nothing of
/// ranges, MVCC, Raft, placement, RPC or the wire contract; Mvcc may use Storage, client ids and
/// proto messages; Ranges may use Raft, Mvcc and Storage; Placement may use Raft, Ranges, Mvcc
/// and Storage; nothing below Server names Server;</item>
/// <item>client names no server type (nothing of Kv.Node, no ASP.NET Core).</item>
/// </list>
/// A reference counts whether it is a using line or a qualified name in code, so a rule cannot be
/// bypassed by writing <c>Kv.Node.Server.X</c> inline.
/// </summary>
internal static partial class DependencyRules
{
    /// <summary>Which product projects each product project may reference (by folder).</summary>
    private static readonly Dictionary<string, string[]> AllowedProjectReferences = new(StringComparer.Ordinal)
    {
        ["proto"] = [],
        ["client"] = ["proto"],
        ["node"] = ["client", "proto"],
        ["cli"] = ["client", "proto"],
        ["module"] = ["client", "proto"],
        ["controller"] = ["client", "proto"],
    };

    /// <summary>node/ folder -> namespaces (prefixes) its files must not name.</summary>
    private static readonly Dictionary<string, string[]> ForbiddenInNodeLayer = new(StringComparer.Ordinal)
    {
        ["Raft"] = ["Kv.", "Google.Protobuf", "Grpc.", "Microsoft.", "RocksDbSharp", "Prometheus"],
        ["Storage"] = ["Kv.Node.Raft", "Kv.Node.Mvcc", "Kv.Node.Ranges", "Kv.Node.Placement", "Kv.Node.Server", "Kv.Proto", "Kv.Client", "Grpc.", "Google.Protobuf", "Microsoft.AspNetCore"],
        ["Mvcc"] = ["Kv.Node.Raft", "Kv.Node.Ranges", "Kv.Node.Placement", "Kv.Node.Server", "Grpc.", "Microsoft.AspNetCore"],
        ["Ranges"] = ["Kv.Node.Placement", "Kv.Node.Server", "Microsoft.AspNetCore"],
        ["Placement"] = ["Kv.Node.Server", "Microsoft.AspNetCore"],
    };

    private static readonly string[] ForbiddenInClient = ["Kv.Node", "Microsoft.AspNetCore", "Grpc.AspNetCore"];

    /// <summary>Violations of the project-reference rule in one product project file.</summary>
    public static IEnumerable<string> CheckProject(string projectFolder, string projectXml)
    {
        if (!AllowedProjectReferences.TryGetValue(projectFolder, out var allowed))
        {
            yield break; // tests/ and bench/ may reference any project.
        }

        foreach (var reference in XDocument.Parse(projectXml).Descendants("ProjectReference"))
        {
            var include = (string?)reference.Attribute("Include") ?? "";
            var target = include.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries)
                .SkipWhile(part => part == "..").FirstOrDefault() ?? include;
            if (!allowed.Contains(target, StringComparer.Ordinal))
            {
                yield return $"{projectFolder} references {include}; DESIGN.md section 2 allows {projectFolder} -> [{string.Join(", ", allowed)}]";
            }
        }
    }

    /// <summary>Violations of the namespace rules in one source file, given its path relative to the repository root.</summary>
    public static IEnumerable<string> CheckSource(string relativePath, string text)
    {
        var parts = relativePath.Replace('\\', '/').Split('/');
        string[] forbidden;
        string rule;
        if (parts.Length > 2 && parts[0] == "node" && ForbiddenInNodeLayer.TryGetValue(parts[1], out var layer))
        {
            forbidden = layer;
            rule = $"node/{parts[1]}";
        }
        else if (parts.Length > 1 && parts[0] == "client")
        {
            forbidden = ForbiddenInClient;
            rule = "client";
        }
        else
        {
            yield break;
        }

        var code = StripCommentsAndStrings(text);
        foreach (Match m in QualifiedName().Matches(code))
        {
            var name = m.Value;
            var hit = forbidden.FirstOrDefault(prefix => name.StartsWith(prefix, StringComparison.Ordinal) || name + "." == prefix);
            if (hit is not null && !IsOwnNamespace(rule, name))
            {
                var line = code.AsSpan(0, m.Index).Count('\n') + 1;
                yield return $"{relativePath}:{line}: {rule} must not name {name} (forbidden: {hit}*; DESIGN.md section 2)";
            }
        }
    }

    // A layer naming itself (Kv.Node.Raft inside node/Raft) is no dependency.
    private static bool IsOwnNamespace(string rule, string name) =>
        rule.StartsWith("node/", StringComparison.Ordinal) && name.StartsWith("Kv.Node." + rule[5..], StringComparison.Ordinal);

    // Comments and string literals mention names without depending on them.
    private static string StripCommentsAndStrings(string text) =>
        CommentsAndStrings().Replace(text, m => new string('\n', m.Value.Count(c => c == '\n')));

    [GeneratedRegex(@"\b(?:Kv|Google|Grpc|Microsoft|RocksDbSharp|Prometheus)(?:\.[A-Z][A-Za-z0-9_]*)+")]
    private static partial Regex QualifiedName();

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/|@""(?:[^""]|"""")*""|\$?""(?:[^""\\\n]|\\.)*""", RegexOptions.Singleline)]
    private static partial Regex CommentsAndStrings();
}
