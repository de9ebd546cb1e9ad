namespace Kv.Operator.Tests;

public class CustomResourcesTests
{
    [Theory]
    [InlineData("KvCluster", "kvclusters.kv.controlplane.io")]
    [InlineData("KvOperation", "kvoperations.kv.controlplane.io")]
    public void Crd_names_follow_plural_dot_group(string kind, string expected) =>
        Assert.Equal(expected, CustomResources.CrdName(kind));

    [Fact]
    public void Every_kind_of_the_design_is_owned() =>
        Assert.Equal(["KvCluster", "KvBackup", "KvRestore", "KvOperation"], CustomResources.Kinds);
}
