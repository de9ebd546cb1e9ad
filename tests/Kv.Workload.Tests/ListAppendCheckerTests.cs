using static Kv.Workload.Tests.HistoryBuilder;

namespace Kv.Workload.Tests;

public class ListAppendCheckerTests
{
    private static CheckResult Check(HistoryBuilder h) => ListAppendChecker.Check(h.Operations);

    private static void AssertOnly(CheckResult r, string kind)
    {
        Assert.True(r.HasViolation(kind), $"expected {kind}, got: {string.Join(" | ", r.Violations)}");
    }

    [Fact]
    public void A_consistent_history_with_failed_and_info_txns_is_valid()
    {
        var h = new HistoryBuilder()
            .Txn("p1", "ok", A(1, "a"))
            .Txn("p2", "ok", R(1, "a"), A(1, "b"), R(1, "a", "b"))
            .Txn("p1", "fail", A(1, "x"))
            .Txn("p3", "info", A(2, "y"))
            .Txn("p1", "ok", R(1, "a", "b"), R(2, "y"));
        var r = Check(h);
        Assert.True(r.Valid, string.Join(" | ", r.Violations));
        Assert.Equal(3, r.Counts["txn-ok"]);
    }

    [Fact]
    public void Aborted_read_is_G1a()
    {
        var h = new HistoryBuilder().Txn("p1", "fail", A(1, "x")).Txn("p2", "ok", R(1, "x"));
        AssertOnly(Check(h), "G1a");
    }

    [Fact]
    public void Intermediate_read_is_G1b()
    {
        var h = new HistoryBuilder()
            .Invoke("p2", R(1, "a"))
            .Txn("p1", "ok", A(1, "a"), A(1, "b"))
            .Complete("p2", "ok", R(1, "a"))
            .Txn("p3", "ok", R(1, "a", "b"));
        AssertOnly(Check(h), "G1b");
    }

    [Fact]
    public void Write_cycle_is_G0()
    {
        var h = new HistoryBuilder()
            .Invoke("p1", A(1, "a1"), A(2, "a2"))
            .Invoke("p2", A(1, "b1"), A(2, "b2"))
            .Complete("p1", "ok", A(1, "a1"), A(2, "a2"))
            .Complete("p2", "ok", A(1, "b1"), A(2, "b2"))
            .Txn("p3", "ok", R(1, "a1", "b1"), R(2, "b2", "a2"));
        AssertOnly(Check(h), "G0");
    }

    [Fact]
    public void Circular_information_flow_is_G1c()
    {
        var h = new HistoryBuilder()
            .Invoke("p1", A(1, "a"), R(2, "b"))
            .Invoke("p2", A(2, "b"), R(1, "a"))
            .Complete("p1", "ok", A(1, "a"), R(2, "b"))
            .Complete("p2", "ok", A(2, "b"), R(1, "a"));
        var r = Check(h);
        AssertOnly(r, "G1c");
        Assert.False(r.HasViolation("G0"));
    }

    [Fact]
    public void Read_skew_is_G_single()
    {
        var h = new HistoryBuilder()
            .Invoke("p1", R(1), R(2, "b"))
            .Txn("p2", "ok", A(1, "a"), A(2, "b"))
            .Complete("p1", "ok", R(1), R(2, "b"))
            .Txn("p3", "ok", R(1, "a"));
        AssertOnly(Check(h), "G-single");
    }

    [Fact]
    public void Write_skew_is_G2_and_allowed_under_snapshot_isolation()
    {
        var h = new HistoryBuilder()
            .Invoke("p1", R(1), A(2, "x"))
            .Invoke("p2", R(2), A(1, "y"))
            .Complete("p1", "ok", R(1), A(2, "x"))
            .Complete("p2", "ok", R(2), A(1, "y"))
            .Txn("p3", "ok", R(1, "y"), R(2, "x"));
        var r = Check(h);
        Assert.True(r.Valid, string.Join(" | ", r.Violations));
        Assert.Contains(r.Notes, n => n.Contains("G2", StringComparison.Ordinal));
    }

    [Fact]
    public void A_committed_append_missing_from_a_later_read_is_a_lost_update()
    {
        var h = new HistoryBuilder()
            .Txn("p1", "ok", A(1, "a"))
            .Txn("p2", "ok", A(1, "b"))
            .Txn("p3", "ok", R(1, "b"));
        AssertOnly(Check(h), "lost-update");
    }

    [Fact]
    public void A_concurrent_read_may_miss_an_append()
    {
        var h = new HistoryBuilder()
            .Invoke("p3", R(1))
            .Txn("p1", "ok", A(1, "a"))
            .Complete("p3", "ok", R(1))
            .Txn("p2", "ok", R(1, "a"));
        var r = Check(h);
        Assert.True(r.Valid, string.Join(" | ", r.Violations));
    }

    [Fact]
    public void Duplicates_incompatible_orders_garbage_and_internal_inconsistency_are_flagged()
    {
        AssertOnly(Check(new HistoryBuilder().Txn("p1", "ok", A(1, "a")).Txn("p2", "ok", R(1, "a", "a"))), "duplicate");
        AssertOnly(Check(new HistoryBuilder()
            .Invoke("p1", A(1, "a")).Invoke("p2", A(1, "b"))
            .Complete("p1", "ok", A(1, "a")).Complete("p2", "ok", A(1, "b"))
            .Txn("p3", "ok", R(1, "a", "b")).Txn("p4", "ok", R(1, "b", "a"))), "incompatible-order");
        AssertOnly(Check(new HistoryBuilder().Txn("p1", "ok", R(1, "z"))), "garbage");
        AssertOnly(Check(new HistoryBuilder().Txn("p1", "ok", A(1, "a"), R(1))), "internal");
    }

    [Fact]
    public void Long_fork_is_G_nonadjacent()
    {
        // T1 appends x, T2 appends y; T3 sees x not y, T4 sees y not x. All four overlap in real
        // time, so only the rw/wr cycle T1 -wr-> T3 -rw-> T2 -wr-> T4 -rw-> T1 convicts it.
        var h = new HistoryBuilder()
            .Invoke("p1", A(1, "a")).Invoke("p2", A(2, "b")).Invoke("p3", R(1), R(2)).Invoke("p4", R(1), R(2))
            .Complete("p1", "ok", A(1, "a")).Complete("p2", "ok", A(2, "b"))
            .Complete("p3", "ok", R(1, "a"), R(2)).Complete("p4", "ok", R(1), R(2, "b"));
        var r = Check(h);
        AssertOnly(r, "G-nonadjacent");
        Assert.False(r.HasViolation("G-single"), string.Join(" | ", r.Violations));
    }

    [Fact]
    public void Two_adjacent_rw_edges_are_not_a_long_fork()
    {
        // The control for G-nonadjacent: write skew's cycle T1 -rw-> T2 -rw-> T1 has adjacent rw edges.
        var h = new HistoryBuilder()
            .Invoke("p1", R(1), A(2, "x")).Invoke("p2", R(2), A(1, "y"))
            .Complete("p1", "ok", R(1), A(2, "x")).Complete("p2", "ok", R(2), A(1, "y"));
        var r = Check(h);
        Assert.True(r.Valid, string.Join(" | ", r.Violations));
    }

    [Fact]
    public void Missing_a_transaction_that_returned_before_the_read_began_is_G_single_realtime()
    {
        var h = new HistoryBuilder()
            .Txn("p1", "ok", A(1, "a"))
            .Txn("p2", "ok", R(1))
            .Txn("p3", "ok", R(1, "a"));
        var r = Check(h);
        AssertOnly(r, "G-single-realtime");
        Assert.False(r.HasViolation("G-single"), "without real time the history is serializable");
    }

    [Fact]
    public void Reading_a_value_appended_after_the_reader_returned_is_G1c_realtime()
    {
        // p1 read p2's append, but p2 was invoked only after p1 returned: p2 -wr-> p1 -rt-> p2.
        var h = new HistoryBuilder()
            .Txn("p1", "ok", R(1, "a"))
            .Txn("p2", "ok", A(1, "a"));
        AssertOnly(Check(h), "G1c-realtime");
    }

    [Fact]
    public void Timestamps_that_agree_with_the_reads_and_real_time_are_valid()
    {
        var h = new HistoryBuilder()
            .TxnTs("p1", 1, 2, A(1, "a"))
            .TxnTs("p2", 3, 4, R(1, "a"), A(1, "b"))
            .TxnTs("p1", 5, 5, R(1, "a", "b"));
        var r = Check(h);
        Assert.True(r.Valid, string.Join(" | ", r.Violations));
    }

    [Fact]
    public void Version_order_against_commit_ts_is_ts_order()
    {
        var h = new HistoryBuilder()
            .Invoke("p1", A(1, "a")).Invoke("p2", A(1, "b"))
            .CompleteTs("p1", "ok", 1, 20, A(1, "a")).CompleteTs("p2", "ok", 2, 10, A(1, "b"))
            .TxnTs("p3", 30, 30, R(1, "a", "b"));
        AssertOnly(Check(h), "ts-order");
    }

    [Fact]
    public void Reading_a_version_committed_above_the_start_ts_is_ts_future_read()
    {
        var h = new HistoryBuilder()
            .Invoke("p1", A(1, "a")).Invoke("p2", R(1))
            .CompleteTs("p1", "ok", 1, 20, A(1, "a")).CompleteTs("p2", "ok", 10, 10, R(1, "a"));
        AssertOnly(Check(h), "ts-future-read");
    }

    [Fact]
    public void Missing_a_version_committed_at_or_below_the_start_ts_is_ts_stale_read()
    {
        var h = new HistoryBuilder()
            .Invoke("p1", A(1, "a")).Invoke("p2", R(1))
            .CompleteTs("p1", "ok", 1, 5, A(1, "a")).CompleteTs("p2", "ok", 10, 10, R(1))
            .TxnTs("p3", 30, 30, R(1, "a"));
        AssertOnly(Check(h), "ts-stale-read");
    }

    [Fact]
    public void A_start_ts_below_a_commit_ts_that_returned_before_is_ts_realtime()
    {
        var h = new HistoryBuilder()
            .TxnTs("p1", 5, 20, A(1, "a"))
            .TxnTs("p2", 15, 15, R(2));
        AssertOnly(Check(h), "ts-realtime");
    }
}
