using System.Management.Automation;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Kv.PowerShell.Tests;

/// <summary>
/// Checks by reflection, without running PowerShell, what every cmdlet must satisfy as the module
/// grows: the manifest exports exactly the cmdlets the assembly defines, verbs are approved, nouns
/// carry the Kv prefix, output types are declared and mutations support ShouldProcess. Attributes
/// are read from metadata (CustomAttributeData), so a cmdlet's attribute constructor never runs.
/// InProcessModuleTests and tests/pester run the cmdlets themselves.
/// </summary>
public partial class ModuleManifestTests
{
    private static readonly Assembly Module = typeof(GetKvVersionCommand).Assembly;

    private sealed record CmdletInfo(string Verb, string Noun, Type Type, bool SupportsShouldProcess)
    {
        public string Name => $"{Verb}-{Noun}";
    }

    private static IEnumerable<CmdletInfo> Cmdlets() =>
        from type in Module.GetTypes()
        from data in type.GetCustomAttributesData()
        where data.AttributeType == typeof(CmdletAttribute)
        select new CmdletInfo(
            (string)data.ConstructorArguments[0].Value!,
            (string)data.ConstructorArguments[1].Value!,
            type,
            data.NamedArguments.Any(a => a.MemberName == nameof(CmdletAttribute.SupportsShouldProcess) && (bool)a.TypedValue.Value!));

    private static bool Has<TAttribute>(Type type) =>
        type.GetCustomAttributesData().Any(d => d.AttributeType == typeof(TAttribute));

    private static string[] ManifestCmdlets()
    {
        var psd1 = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "KvControl.psd1"));
        var block = CmdletsBlock().Match(psd1);
        Assert.True(block.Success, "KvControl.psd1 has no CmdletsToExport list");
        return QuotedName().Matches(block.Groups[1].Value).Select(m => m.Groups[1].Value).ToArray();
    }

    [Fact]
    public void Manifest_exports_exactly_the_cmdlets_the_assembly_defines() =>
        Assert.Equal(Cmdlets().Select(c => c.Name).Order(), ManifestCmdlets().Order());

    [Fact]
    public void Every_cmdlet_uses_an_approved_verb_and_the_Kv_noun_prefix()
    {
        var approved = new[] { typeof(VerbsCommon), typeof(VerbsData), typeof(VerbsLifecycle), typeof(VerbsDiagnostic), typeof(VerbsCommunications), typeof(VerbsSecurity), typeof(VerbsOther) }
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static))
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(approved);
        foreach (var cmdlet in Cmdlets())
        {
            Assert.True(approved.Contains(cmdlet.Verb), $"{cmdlet.Name}: '{cmdlet.Verb}' is not an approved verb");
            Assert.StartsWith("Kv", cmdlet.Noun, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_cmdlet_declares_its_output_type_and_mutations_support_ShouldProcess()
    {
        var readOnlyVerbs = new HashSet<string>(StringComparer.Ordinal) { "Get", "Test", "Wait", "Watch", "Find", "Search", "Connect", "Disconnect" };
        Assert.NotEmpty(Cmdlets());
        foreach (var cmdlet in Cmdlets())
        {
            Assert.True(Has<OutputTypeAttribute>(cmdlet.Type), $"{cmdlet.Name} has no [OutputType]");
            if (!readOnlyVerbs.Contains(cmdlet.Verb))
            {
                Assert.True(cmdlet.SupportsShouldProcess, $"{cmdlet.Name} changes state but does not support ShouldProcess");
            }
        }
    }

    [GeneratedRegex(@"CmdletsToExport\s*=\s*@\(([^)]*)\)", RegexOptions.Singleline)]
    private static partial Regex CmdletsBlock();

    [GeneratedRegex(@"'([^']+)'")]
    private static partial Regex QuotedName();
}
