using Kv.Client;
using Kv.Node.Placement.Operations.Planning;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Planning.PlanningTestData;

namespace Kv.Node.Tests.Placement.Planning;

/// <summary>The isolation level and the "no two voters share a failure domain" rule (FailureDomains.cs, rule at its top).</summary>
public sealed class FailureDomainsTests
{
    public static TheoryData<string, string[], int, string, bool> Levels => new()
    {
        // name, labels of stores 1..n, replication factor, expected level, sufficient
        { "three zones", ["zone=a,host=h1", "zone=b,host=h2", "zone=c,host=h3"], 3, "zone", true },
        { "two zones fall back to hosts", ["zone=a,host=h1", "zone=a,host=h2", "zone=b,host=h3"], 3, "host", true },
        { "two stores on one host: impossible", ["zone=a,host=h1", "zone=a,host=h1", "zone=b,host=h2"], 3, "host", false },
        { "no labels: every store its own domain", ["", "", ""], 3, "store", true },
        { "an unlabeled store is its own domain", ["zone=a", "zone=b", ""], 3, "zone", true },
        { "five zones for five voters", ["zone=a", "zone=b", "zone=c", "zone=d", "zone=e"], 5, "zone", true },
        { "four zones, replication factor five", ["zone=a", "zone=b", "zone=c", "zone=d", "zone=d"], 5, "host", false },
        { "too few stores", ["zone=a", "zone=b"], 3, "host", false },
    };

    [Theory]
    [MemberData(nameof(Levels))]
    public void The_isolation_level_is_the_coarsest_label_with_enough_distinct_domains(string name, string[] labels, int rf, string level, bool sufficient)
    {
        var domains = FailureDomains.Compute(View(Stores(labels), [], rf));

        Assert.True(level == domains.Level, $"{name}: level {domains.Level}, expected {level}");
        Assert.True(sufficient == domains.Sufficient, $"{name}: sufficient {domains.Sufficient}");
        Assert.Equal(sufficient, domains.InsufficientReason is null);
    }

    [Fact]
    public void Stores_that_cannot_take_replicas_do_not_count_toward_the_isolation_level()
    {
        // Zones a, b, c, but the zone c store is draining: the active stores span only a and b,
        // so zones cannot separate three voters and the level falls back to hosts.
        var stores = new[]
        {
            Store(1, "zone=a,host=h1"), Store(2, "zone=b,host=h2"),
            Store(3, "zone=c,host=h3", admin: StoreAdminState.Draining), Store(4, "zone=a,host=h4"),
        };

        var domains = FailureDomains.Compute(View(stores, []));

        Assert.Equal("host", domains.Level);
        // Control: with store 3 active, zones suffice.
        Assert.Equal("zone", FailureDomains.Compute(View(stores.Select(s => s with { AdminState = StoreAdminState.Active }), [])).Level);
    }

    [Fact]
    public void A_down_store_still_counts_so_a_short_outage_does_not_reshuffle_domains()
    {
        var domains = FailureDomains.Compute(View([Store(1, "zone=a"), Store(2, "zone=b"), Store(3, "zone=c", up: false)], []));

        Assert.Equal("zone", domains.Level);
    }

    [Fact]
    public void The_rule_catches_two_voters_in_one_zone_and_passes_a_spread_placement()
    {
        var domains = FailureDomains.Compute(View(Stores("zone=a,host=h1", "zone=b,host=h2", "zone=c,host=h3", "zone=a,host=h4"), []));

        Assert.Empty(domains.Violations([new StoreId(1), new StoreId(2), new StoreId(3)]));
        // Negative control: stores 1 and 4 are both in zone a.
        var violation = Assert.Single(domains.Violations([new StoreId(1), new StoreId(2), new StoreId(4)]));
        Assert.Equal((new StoreId(1), new StoreId(4)), violation);
        Assert.Equal(new StoreId(1), domains.SharedWith([new StoreId(1), new StoreId(2)], new StoreId(4)));
        Assert.Null(domains.SharedWith([new StoreId(1), new StoreId(2)], new StoreId(3)));
        Assert.Equal("zone a", domains.Describe(new StoreId(4)));
    }

    [Fact]
    public void A_missing_label_is_an_unknown_location_not_a_distinct_one()
    {
        // Neither store 1 nor store 2 says its rack; at the rack level they are the same unknown
        // rack of zone a, not two racks. Racks still give three domains: (a, ?), (b, ?), (b, r1).
        var domains = FailureDomains.Compute(View(Stores("zone=a,host=h1", "zone=a,host=h2", "zone=b,host=h3", "zone=b,rack=r1,host=h4"), []));

        Assert.Equal("rack", domains.Level);
        Assert.Equal(new StoreId(1), domains.SharedWith([new StoreId(1)], new StoreId(2)));
        Assert.Null(domains.SharedWith([new StoreId(3)], new StoreId(4)));
        Assert.Equal("rack unset", domains.Describe(new StoreId(1)));
        Assert.Equal("rack r1", domains.Describe(new StoreId(4)));
    }

    [Fact]
    public void The_insufficient_reason_says_what_to_do()
    {
        var labels = FailureDomains.Compute(View(Stores("zone=a,host=h1", "zone=a,host=h1", "zone=b,host=h2"), []));
        var few = FailureDomains.Compute(View(Stores("", ""), []));

        Assert.Contains("labels make placement impossible", labels.InsufficientReason, StringComparison.Ordinal);
        Assert.Contains("distinct host labels", labels.InsufficientReason, StringComparison.Ordinal);
        Assert.Contains("only 2 active store(s)", few.InsufficientReason, StringComparison.Ordinal);
    }
}
