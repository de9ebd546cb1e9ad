using Kv.Client.Cluster;

namespace Kv.Client.Tests.Cluster;

/// <summary>The store label rules every face shares: what is accepted, and each way a label is refused.</summary>
public sealed class StoreLabelsTests
{
    [Fact]
    public void Valid_labels_parse_sorted_by_key_and_format_back()
    {
        var (labels, error) = StoreLabels.Parse(" zone=us-east-1a , host=node_7.rack-2,Tier=SSD ");
        Assert.Null(error);
        Assert.Equal(3, labels!.Count);
        Assert.Equal("us-east-1a", labels["zone"]);
        Assert.Equal("Tier=SSD,host=node_7.rack-2,zone=us-east-1a", StoreLabels.Format(labels));
        Assert.Empty(StoreLabels.Parse("").Labels!);
        Assert.Empty(StoreLabels.Parse(null).Labels!);
        Assert.Null(StoreLabels.Check(labels));
    }

    [Theory]
    [InlineData("zone=a,zone=b", "given twice")]
    [InlineData("zone", "has no '='")]
    [InlineData("zone=", "is empty")]
    [InlineData("=a", "is empty")]
    [InlineData("zo ne=a", "has ' '")]
    [InlineData("zone=a/b", "has '/'")]
    [InlineData("zone=é", "has 'é'")]
    [InlineData("zone=a,", "empty item")]
    [InlineData(".zone=a", "start and end")]
    [InlineData("zone=a-", "start and end")]
    public void Bad_labels_are_refused_with_the_reason(string text, string reason)
    {
        var (labels, error) = StoreLabels.Parse(text);
        Assert.Null(labels);
        Assert.NotNull(error);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Lengths_and_counts_have_limits()
    {
        var longest = new string('k', StoreLabels.MaxLength);
        Assert.Null(StoreLabels.Check(longest, longest));
        Assert.Contains("at most 63", StoreLabels.Check(longest + "k", "v"), StringComparison.Ordinal);
        Assert.Contains("at most 63", StoreLabels.Check("k", longest + "v"), StringComparison.Ordinal);

        var sixteen = string.Join(',', Enumerable.Range(0, StoreLabels.MaxLabels).Select(i => $"k{i}=v"));
        Assert.Null(StoreLabels.Parse(sixteen).Error);
        Assert.Contains("at most 16", StoreLabels.Parse(sixteen + ",k16=v").Error, StringComparison.Ordinal);
        Assert.Contains("at most 16", StoreLabels.Check(Enumerable.Range(0, 17).Select(i => KeyValuePair.Create($"k{i}", "v"))), StringComparison.Ordinal);
    }

    [Fact]
    public void Check_of_a_map_catches_one_bad_pair_among_good_ones()
    {
        Assert.Null(StoreLabels.Check([KeyValuePair.Create("zone", "a"), KeyValuePair.Create("host", "h1")]));
        Assert.NotNull(StoreLabels.Check([KeyValuePair.Create("zone", "a"), KeyValuePair.Create("host", "")]));
    }
}
