using Kv.Node.Placement;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Placement;

/// <summary>Bootstrap's first range: on at most the replication factor's worth of placement members, not on all of them.</summary>
public sealed class FirstRangeTests
{
    private static PlacementMember[] Members(int n) =>
        [.. Enumerable.Range(1, n).Select(i => new PlacementMember { MemberId = (ulong)i, Address = $"127.0.0.1:{7000 + i}" })];

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 3)]
    [InlineData(5, 3)]
    public void The_first_range_is_on_the_first_members_up_to_the_default_replication_factor(int members, int replicas)
    {
        var range = FirstRange.Build(Members(members));

        Assert.Equal(3, FirstRange.DefaultReplicationFactor);
        Assert.Equal(replicas, range.Replicas.Count);
        Assert.Equal(Enumerable.Range(1, replicas).Select(i => (ulong)i), range.Replicas.Select(r => r.StoreId));
        Assert.All(range.Replicas, r => Assert.Equal(r.StoreId, r.ReplicaId));
        Assert.All(range.Replicas, r => Assert.Equal(ReplicaRole.Voter, r.Role));
        Assert.Equal(1ul, range.RangeId);
        Assert.True(range.StartKey.IsEmpty && range.EndKey.IsEmpty, "the first range covers the whole key space");
        Assert.Equal(new RangeEpoch { ConfVer = 1, Version = 1 }, range.Epoch);
        Assert.Null(PlacementState.CheckRange(range));
    }

    [Fact]
    public void A_factor_other_than_the_default_is_honoured_and_members_are_taken_in_id_order()
    {
        var shuffled = Members(5).Reverse().ToArray();
        Assert.Equal([1ul, 2ul, 3ul, 4ul, 5ul], FirstRange.Build(shuffled, replicationFactor: 5).Replicas.Select(r => r.StoreId));
        Assert.Equal([1ul], FirstRange.Build(shuffled, replicationFactor: 1).Replicas.Select(r => r.StoreId));
        Assert.Equal([1ul, 2ul, 3ul], FirstRange.Build(Members(3), replicationFactor: 7).Replicas.Select(r => r.StoreId));
    }

    [Fact]
    public void No_members_or_a_factor_below_one_is_refused()
    {
        Assert.Throws<ArgumentException>(() => FirstRange.Build([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => FirstRange.Build(Members(3), replicationFactor: 0));
    }
}
