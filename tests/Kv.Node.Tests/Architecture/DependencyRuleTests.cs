namespace Kv.Node.Tests.Architecture;

/// <summary>The tree keeps the dependency rules of shared/DESIGN.md section 2; each rule catches a broken variant.</summary>
public sealed class DependencyRuleTests
{
    [Fact]
    public void The_product_projects_reference_only_what_the_design_allows()
    {
        var root = RepositoryRoot();
        var violations = new List<string>();
        foreach (var folder in new[] { "proto", "client", "node", "cli", "module", "controller" })
        {
            foreach (var project in Directory.EnumerateFiles(Path.Combine(root, folder), "*.csproj"))
            {
                violations.AddRange(DependencyRules.CheckProject(folder, File.ReadAllText(project)));
            }
        }

        Assert.Empty(violations);
    }

    [Fact]
    public void Every_source_file_keeps_its_layer()
    {
        var root = RepositoryRoot();
        var violations = new List<string>();
        var checkedFiles = 0;
        foreach (var folder in new[] { "node", "client" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(root, folder), "*.cs", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
                if (relative.Contains("/obj/", StringComparison.Ordinal) || relative.Contains("/bin/", StringComparison.Ordinal))
                {
                    continue;
                }

                checkedFiles++;
                violations.AddRange(DependencyRules.CheckSource(relative, File.ReadAllText(file)));
            }
        }

        Assert.True(checkedFiles > 50, $"only {checkedFiles} source files found under {root}: is the repository root right?");
        Assert.Empty(violations);
    }

    [Theory]
    [InlineData("client", "<Project><ItemGroup><ProjectReference Include=\"../node/Kv.Node.csproj\" /></ItemGroup></Project>")]
    [InlineData("cli", "<Project><ItemGroup><ProjectReference Include=\"..\\node\\Kv.Node.csproj\" /></ItemGroup></Project>")]
    [InlineData("proto", "<Project><ItemGroup><ProjectReference Include=\"../client/Kv.Client.csproj\" /></ItemGroup></Project>")]
    [InlineData("controller", "<Project><ItemGroup><ProjectReference Include=\"../module/Kv.PowerShell.csproj\" /></ItemGroup></Project>")]
    public void A_forbidden_project_reference_is_caught(string folder, string xml) =>
        Assert.Single(DependencyRules.CheckProject(folder, xml));

    [Fact]
    public void An_allowed_project_reference_passes() =>
        Assert.Empty(DependencyRules.CheckProject("node", "<Project><ItemGroup><ProjectReference Include=\"../client/Kv.Client.csproj\" /><ProjectReference Include=\"../proto/Kv.Proto.csproj\" /></ItemGroup></Project>"));

    [Theory]
    [InlineData("node/Raft/Raft.cs", "using Kv.Node.Storage;\nnamespace Kv.Node.Raft;")]
    [InlineData("node/Raft/Raft.cs", "namespace Kv.Node.Raft;\nclass A { Microsoft.Extensions.Logging.ILogger? l; }")]
    [InlineData("node/Storage/Engine.cs", "namespace Kv.Node.Storage;\nclass A { Kv.Node.Ranges.Store? s; }")]
    [InlineData("node/Storage/Engine.cs", "using Kv.Proto.V1;\nnamespace Kv.Node.Storage;")]
    [InlineData("node/Mvcc/TxnActions.cs", "using Kv.Node.Ranges;\nnamespace Kv.Node.Mvcc;")]
    [InlineData("node/Ranges/Store.cs", "using Kv.Node.Server.Services;\nnamespace Kv.Node.Ranges;")]
    [InlineData("node/Ranges/Store.cs", "using Kv.Node.Placement;\nnamespace Kv.Node.Ranges;")]
    [InlineData("node/Placement/PlacementState.cs", "namespace Kv.Node.Placement;\nclass A { Kv.Node.Server.Hosting.NodeHost? h; }")]
    [InlineData("client/Cluster/KvClient.cs", "using Kv.Node.Ranges;\nnamespace Kv.Client.Cluster;")]
    [InlineData("client/Cluster/KvClient.cs", "using Microsoft.AspNetCore.Builder;\nnamespace Kv.Client.Cluster;")]
    public void A_forbidden_name_is_caught(string path, string text) =>
        Assert.Single(DependencyRules.CheckSource(path, text));

    [Theory]
    [InlineData("node/Raft/Raft.cs", "namespace Kv.Node.Raft;\nusing System.Collections.Generic;\n// Kv.Node.Storage is mentioned in a comment only\nclass A { string s = \"Kv.Node.Server\"; }")]
    [InlineData("node/Ranges/Store.cs", "using Kv.Node.Raft;\nusing Kv.Node.Mvcc;\nusing Kv.Node.Storage;\nusing Kv.Proto.V1;\nnamespace Kv.Node.Ranges;")]
    [InlineData("node/Server/Hosting/NodeHost.cs", "using Kv.Node.Ranges;\nusing Kv.Node.Placement;\nusing Microsoft.AspNetCore.Builder;")]
    [InlineData("client/Cluster/KvClient.cs", "using Kv.Proto.V1;\nusing Grpc.Net.Client;\nnamespace Kv.Client.Cluster;")]
    public void Allowed_names_pass(string path, string text) =>
        Assert.Empty(DependencyRules.CheckSource(path, text));

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ControlPlane.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"ControlPlane.sln not found above {AppContext.BaseDirectory}");
    }
}
