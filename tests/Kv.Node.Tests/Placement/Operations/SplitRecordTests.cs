using Kv.Node.Placement;
using Kv.Node.Placement.Operations;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.Operations.OperationsTestData;
using static Kv.Node.Tests.Placement.PlacementTestData;

namespace Kv.Node.Tests.Placement.Operations;

/// <summary>
/// How placement learns that a split was automatic (issue 13, gap 1): the automatic split path
/// reports the right half with a SplitOrigin; the PutRange apply records it (once, both halves in
/// the directory), persists it, and a prune drops old ones. An operator's split carries none.
/// </summary>
public class SplitRecordTests
{
    private const long Week = 7L * 24 * 60 * 60 * 1000;

    private static PlacementCommand PutSplit(RangeDescriptor right, ulong left, SplitReason reason = SplitReason.Load, long atMs = T0)
    {
        var command = PutRange(right);
        command.PutRange.Split = new SplitOrigin { LeftRangeId = left, Reason = reason, AtMs = atMs };
        return command;
    }

    /// <summary>SmallCluster with range 2 ["m", "") split at "t": range 2 keeps ["m", "t"), range 7 takes ["t", "").</summary>
    private static (PlacementState State, SortedDictionary<string, byte[]> Records) SplitTwo()
    {
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var state = SmallCluster(records);
        ApplyAndPersist(state, PutRange(Range(2, "m", "t", 3, 1)), records);
        return (state, records);
    }

    [Fact]
    public void The_right_half_of_an_automatic_split_is_recorded_once_and_survives_a_restart()
    {
        var (state, records) = SplitTwo();
        var result = ApplyAndPersist(state, PutSplit(Range(7, "t", "", 3, 1), left: 2), records);

        Assert.Equal(PlacementErrorCode.PlacementErrorNone, result.Code);
        Assert.Contains("recorded range 7 as the right half of a Load split of range 2", result.Message, StringComparison.Ordinal);
        var record = state.Snapshot.Ops.Splits[7];
        Assert.Equal(2ul, record.Origin.LeftRangeId);
        Assert.Equal(SplitReason.Load, record.Origin.Reason);
        Assert.True(state.Snapshot.RangesById.ContainsKey(7));
        Assert.Equal(DescribeAll(state.Snapshot), DescribeAll(PlacementState.Load(AsRecords(records)).Snapshot)); // DescribeAll includes the split records

        // The same report again changes nothing.
        Kept(state, PutSplit(Range(7, "t", "", 3, 1), left: 2));
    }

    [Fact]
    public void An_origin_reported_after_the_right_half_is_already_known_is_still_recorded()
    {
        var (state, _) = SplitTwo();
        Applied(state, PutRange(Range(7, "t", "", 3, 1))); // the right half's own heartbeat came first
        Assert.Empty(state.Snapshot.Ops.Splits);
        var result = Applied(state, PutSplit(Range(7, "t", "", 3, 1), left: 2, SplitReason.Size));
        Assert.True(result.Changed);
        Assert.Equal(SplitReason.Size, state.Snapshot.Ops.Splits[7].Origin.Reason);
    }

    [Fact]
    public void An_operator_split_reported_without_an_origin_is_not_recorded()
    {
        var (state, _) = SplitTwo();
        Applied(state, PutRange(Range(7, "t", "", 3, 1)));
        Assert.Empty(state.Snapshot.Ops.Splits);
    }

    [Theory]
    [InlineData(SplitReason.Unspecified, 2ul, T0, "not an automatic split's")]
    [InlineData(SplitReason.Load, 0ul, T0, "must name the range that was split")]
    [InlineData(SplitReason.Load, 7ul, T0, "must name the range that was split")]
    [InlineData(SplitReason.Size, 2ul, -1L, "negative")]
    public void A_malformed_origin_is_refused_and_changes_nothing(SplitReason reason, ulong left, long atMs, string mentions)
    {
        var (state, _) = SplitTwo();
        Refused(state, PutSplit(Range(7, "t", "", 3, 1), left, reason, atMs), PlacementErrorCode.PlacementErrorInvalidArgument, mentions);
        Assert.False(state.Snapshot.RangesById.ContainsKey(7));
    }

    [Fact]
    public void An_origin_naming_a_left_range_placement_does_not_know_puts_the_range_but_records_no_split()
    {
        var (state, _) = SplitTwo();
        var result = Applied(state, PutSplit(Range(7, "t", "", 3, 1), left: 99));
        Assert.True(state.Snapshot.RangesById.ContainsKey(7));
        Assert.Empty(state.Snapshot.Ops.Splits);
        Assert.Contains("not recorded", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_prune_drops_split_records_older_than_its_retention()
    {
        var (state, records) = SplitTwo();
        ApplyAndPersist(state, PutSplit(Range(7, "t", "", 3, 1), left: 2, atMs: T0), records);
        var prune = new PlacementCommand { PruneOperations = new PruneOperationsCommand { AtMs = T0 + Week - 1, RetentionMs = Week, KeepFinished = 10, Who = "executor" } };
        Kept(state, prune); // not yet old enough: a no-op
        prune.PruneOperations.AtMs = T0 + Week + 1;
        ApplyAndPersist(state, prune, records);
        Assert.Empty(state.Snapshot.Ops.Splits);
        Assert.DoesNotContain(Convert.ToHexString(OperationsRecords.SplitKey(7)), records.Keys);
        Assert.True(state.Snapshot.RangesById.ContainsKey(7)); // the range itself stays
    }
}
