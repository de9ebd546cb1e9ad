namespace Kv.Node.Tests.Raft.Linearizability;

/// <summary>The checker must accept every linearizable history and reject known-bad ones.</summary>
public class RegisterLinearizabilityCheckerTests
{
    private static RegisterOp W(int c, long inv, long ret, ulong v) => RegisterOp.Write(c, inv, ret, v);

    private static RegisterOp R(int c, long inv, long ret, ulong v) => RegisterOp.Read(c, inv, ret, v);

    private static RegisterOp PendingW(int c, long inv, ulong v) => RegisterOp.Write(c, inv, RegisterOp.Pending, v);

    [Fact]
    public void Empty_history_is_linearizable() => Assert.True(RegisterLinearizabilityChecker.IsLinearizable([]));

    [Fact]
    public void Sequential_write_then_read_of_that_value_is_linearizable() =>
        Assert.True(RegisterLinearizabilityChecker.IsLinearizable([W(1, 0, 1, 5), R(2, 2, 3, 5)]));

    [Fact]
    public void Reading_the_initial_value_before_any_write_is_linearizable() =>
        Assert.True(RegisterLinearizabilityChecker.IsLinearizable([R(1, 0, 1, 0), W(1, 2, 3, 5)]));

    [Fact]
    public void A_read_concurrent_with_a_write_may_see_either_value()
    {
        Assert.True(RegisterLinearizabilityChecker.IsLinearizable([W(1, 0, 10, 5), R(2, 2, 3, 0)]));
        Assert.True(RegisterLinearizabilityChecker.IsLinearizable([W(1, 0, 10, 5), R(2, 2, 3, 5)]));
    }

    [Fact]
    public void Known_bad_a_read_returns_a_value_never_written()
    {
        Assert.False(RegisterLinearizabilityChecker.Check([W(1, 0, 1, 5), R(2, 2, 3, 7)], out var why));
        Assert.Contains("not linearizable", why, StringComparison.Ordinal);
    }

    [Fact]
    public void Known_bad_stale_read_after_a_newer_write_completed() =>
        Assert.False(RegisterLinearizabilityChecker.IsLinearizable([W(1, 0, 1, 5), W(1, 2, 3, 6), R(2, 4, 5, 5)]));

    [Fact]
    public void Known_bad_reading_the_initial_value_after_a_write_completed() =>
        Assert.False(RegisterLinearizabilityChecker.IsLinearizable([W(1, 0, 1, 5), R(2, 2, 3, 0)]));

    [Fact]
    public void Known_bad_non_monotonic_reads_during_one_concurrent_write()
    {
        // Once a read has seen the new value and returned, a later read must not see the old one.
        Assert.False(RegisterLinearizabilityChecker.IsLinearizable([W(1, 0, 100, 5), R(2, 10, 20, 5), R(3, 30, 40, 0)]));
    }

    [Fact]
    public void Known_bad_reads_see_two_writes_in_opposite_orders()
    {
        // Writes 5 and 6 overlap; reader A sees 5 then 6, reader B (strictly later) sees 6 then 5.
        Assert.False(RegisterLinearizabilityChecker.IsLinearizable(
        [
            W(1, 0, 100, 5), W(2, 0, 100, 6),
            R(3, 110, 120, 5), R(3, 130, 140, 6),
            R(4, 150, 160, 5),
        ]));
    }

    [Fact]
    public void A_pending_write_may_take_effect_late_or_never()
    {
        Assert.True(RegisterLinearizabilityChecker.IsLinearizable([PendingW(1, 0, 5), R(2, 100, 101, 5)]));
        Assert.True(RegisterLinearizabilityChecker.IsLinearizable([PendingW(1, 0, 5), R(2, 100, 101, 0)]));
        Assert.True(RegisterLinearizabilityChecker.IsLinearizable([PendingW(1, 0, 5), R(2, 100, 101, 0), R(2, 200, 201, 5)]));
    }

    [Fact]
    public void Known_bad_a_pending_write_cannot_take_effect_before_it_was_invoked() =>
        Assert.False(RegisterLinearizabilityChecker.IsLinearizable([R(2, 0, 1, 5), PendingW(1, 10, 5)]));

    [Fact]
    public void Known_bad_a_pending_write_once_seen_cannot_be_unseen() =>
        Assert.False(RegisterLinearizabilityChecker.IsLinearizable([PendingW(1, 0, 5), R(2, 100, 101, 5), R(2, 200, 201, 0)]));

    [Fact]
    public void A_history_too_tangled_for_the_budget_is_reported_not_passed()
    {
        // Many overlapping writes, each read back, then a read of a value nobody wrote: the search
        // must exhaust the orders of the writes before it can say no.
        var ops = new List<RegisterOp>();
        for (var i = 0; i < 14; i++)
        {
            ops.Add(W(i, 0, 100, (ulong)i + 1));
        }

        ops.Add(R(99, 200, 201, 999));
        Assert.False(RegisterLinearizabilityChecker.Check(ops, out var why, maxStates: 1000));
        Assert.StartsWith("undecided", why, StringComparison.Ordinal);
    }

    [Fact]
    public void A_long_sequential_history_is_checked_quickly()
    {
        var ops = new List<RegisterOp>();
        for (var i = 0; i < 500; i++)
        {
            ops.Add(W(1, i * 4, (i * 4) + 1, (ulong)i + 1));
            ops.Add(R(2, (i * 4) + 2, (i * 4) + 3, (ulong)i + 1));
        }

        Assert.True(RegisterLinearizabilityChecker.IsLinearizable(ops));
        ops.Add(R(2, 100_000, 100_001, 1));
        Assert.False(RegisterLinearizabilityChecker.IsLinearizable(ops));
    }
}
