using System.Text.Json.Nodes;

namespace Kv.Workload.Tests;

public class BankCheckerTests
{
    private static HistoryBuilder Init() =>
        new HistoryBuilder().Op("p0", "ok", "init", new JsonObject { ["accounts"] = 2, ["total"] = 200 }, new JsonObject { ["accounts"] = 2, ["total"] = 200 });

    private static JsonObject T(int from, int to, int amount) => new() { ["from"] = from, ["to"] = to, ["amount"] = amount };

    private static JsonObject Balances(long a, long b) => new() { ["0"] = a, ["1"] = b };

    [Fact]
    public void Transfers_visible_in_the_final_read_are_valid()
    {
        var h = Init()
            .Op("p1", "ok", "transfer", T(0, 1, 10), T(0, 1, 10))
            .Op("p2", "fail", "transfer", T(1, 0, 50), null)
            .Op("p1", "ok", "read", null, Balances(90, 110));
        var r = BankChecker.Check(h.Operations);
        Assert.True(r.Valid, string.Join(" | ", r.Violations));
    }

    [Fact]
    public void An_info_transfer_may_or_may_not_be_visible()
    {
        foreach (var read in new[] { Balances(100, 100), Balances(95, 105) })
        {
            var h = Init().Op("p1", "info", "transfer", T(0, 1, 5), null).Op("p2", "ok", "read", null, read);
            var r = BankChecker.Check(h.Operations);
            Assert.True(r.Valid, string.Join(" | ", r.Violations));
        }
    }

    [Fact]
    public void A_wrong_total_a_negative_balance_and_a_missing_transfer_are_violations()
    {
        var total = BankChecker.Check(Init().Op("p1", "ok", "read", null, Balances(90, 100)).Operations);
        Assert.True(total.HasViolation("wrong-total"));
        var negative = BankChecker.Check(Init().Op("p1", "ok", "read", null, Balances(-10, 210)).Operations);
        Assert.True(negative.HasViolation("negative"));
        var missing = BankChecker.Check(Init()
            .Op("p1", "ok", "transfer", T(0, 1, 10), T(0, 1, 10))
            .Op("p2", "ok", "read", null, Balances(100, 100)).Operations);
        Assert.True(missing.HasViolation("final-balance"), string.Join(" | ", missing.Violations));
        var accounts = BankChecker.Check(Init().Op("p1", "ok", "read", null, new JsonObject { ["0"] = 200 }).Operations);
        Assert.True(accounts.HasViolation("wrong-accounts"));
    }

    private static JsonObject Rows(params (int Account, long Balance)[] rows) =>
        new() { ["rows"] = new JsonArray([.. rows.Select(r => (JsonNode?)new JsonArray(r.Account, r.Balance))]) };

    [Fact]
    public void Raw_scan_rows_once_each_in_key_order_are_valid()
    {
        var r = BankChecker.Check(Init().Op("p1", "ok", "read", null, Rows((0, 100), (1, 100))).Operations);
        Assert.True(r.Valid, string.Join(" | ", r.Violations));
    }

    [Fact]
    public void A_row_the_scan_returned_twice_is_a_duplicate_row_even_when_the_balances_add_up()
    {
        // As a map this read would be {0: 100, 1: 100}: valid. Only the raw rows show the repeat.
        var r = BankChecker.Check(Init().Op("p1", "ok", "read", null, Rows((0, 100), (1, 100), (1, 100))).Operations);
        Assert.True(r.HasViolation("duplicate-row"), string.Join(" | ", r.Violations));
        var unordered = BankChecker.Check(Init().Op("p1", "ok", "read", null, Rows((1, 100), (0, 100))).Operations);
        Assert.True(unordered.HasViolation("unordered-rows"), string.Join(" | ", unordered.Violations));
    }
}
