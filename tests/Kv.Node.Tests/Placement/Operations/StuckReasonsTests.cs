using Kv.Node.Placement.Operations;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Placement.Operations;

/// <summary>
/// The reasons an operation's stuck ranges carry (issue 13: no eligible store, snapshot failing,
/// range mid-change, preflight refusal). The executor's own tests check where each is recorded;
/// these check the words for a transient answer, pure.
/// </summary>
public class StuckReasonsTests
{
    private static StepTransient CatchingUp(ulong match) => new() { Kind = StepTransientKind.CatchingUp, StoreId = 4, MatchIndex = match, LastIndex = 900 };

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void A_learner_still_within_the_stall_limit_is_in_progress(int stalls)
    {
        string reason = StuckReasons.ForTransient(CatchingUp(100), "catching up", stalls, failingAfter: 3);
        Assert.Equal("snapshot or catch-up in progress: the learner on store 4 is at index 100 of 900", reason);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(50)]
    public void A_learner_stalled_for_the_limit_is_snapshot_failing_with_what_to_check(int stalls)
    {
        string reason = StuckReasons.ForTransient(CatchingUp(100), "catching up", stalls, failingAfter: 3);
        Assert.StartsWith("snapshot failing: the learner on store 4 has stayed at index 100 of 900", reason, StringComparison.Ordinal);
        Assert.Contains($"for {stalls + 1} attempts", reason, StringComparison.Ordinal);
        Assert.Contains("check that store's disk and logs", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(StepTransientKind.MidChange, "range mid-change: range 7 is in a joint configuration")]
    [InlineData(StepTransientKind.Unavailable, "range unavailable: range 7 is in a joint configuration")]
    [InlineData(StepTransientKind.Unspecified, "range unavailable: range 7 is in a joint configuration")]
    public void Other_transient_answers_keep_the_ranges_own_words_behind_their_kind(StepTransientKind kind, string expected)
    {
        // The stall count only matters for a catch-up.
        Assert.Equal(expected, StuckReasons.ForTransient(new StepTransient { Kind = kind }, "range 7 is in a joint configuration", 99, 3));
    }

    [Fact]
    public void The_four_reasons_the_issue_names_are_distinct_prefixes()
    {
        string[] prefixes = [StuckReasons.NoEligibleStore, StuckReasons.SnapshotFailing, StuckReasons.MidChange, StuckReasons.PreflightRefusal];
        Assert.Equal(["no eligible store", "snapshot failing", "range mid-change", "preflight refusal"], prefixes);
        foreach (var a in prefixes)
        {
            Assert.DoesNotContain(prefixes, b => b != a && b.StartsWith(a, StringComparison.Ordinal));
        }
    }
}
