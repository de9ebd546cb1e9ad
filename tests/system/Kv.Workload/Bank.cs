using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Kv.Workload;

/// <summary>Bank: N accounts created in one transaction; transfers move a random amount between
/// two random accounts without making one negative; reads read every account in one snapshot.</summary>
public sealed class BankWorkload(ITxnStore store, HistoryWriter history, WorkloadOptions options) : Workload(store, history, options)
{
    public const string Prefix = "bank/acct/";

    public static byte[] Key(int account) => Encoding.UTF8.GetBytes(Prefix + account.ToString("D4", CultureInfo.InvariantCulture));

    protected override async Task SetupAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        var value = new JsonObject { ["accounts"] = Options.Accounts, ["total"] = Options.Accounts * Options.Initial };
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var exists = false;
            var ok = await RecordAsync($"{Options.ProcessPrefix}-init", "init", value.DeepClone(), async (txn, ct) =>
            {
                var existing = await ReadAllAsync(txn, ct);
                if (existing.Count > 0)
                {
                    exists = true; // another workload process created them
                    return new JsonObject { ["accounts"] = Options.Accounts, ["total"] = Options.Accounts * Options.Initial, ["existing"] = true };
                }
                for (var i = 0; i < Options.Accounts; i++)
                {
                    txn.Put(Key(i), Encoding.UTF8.GetBytes(Options.Initial.ToString(CultureInfo.InvariantCulture)));
                }
                return value.DeepClone();
            }, readOnly: false);
            if (ok || exists)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("could not create the bank accounts within 2 minutes; is the cluster up?");
            }
            await Task.Delay(200, cancellationToken);
        }
    }

    protected override Task OneAsync(string process, Random random, int n, CancellationToken cancellationToken)
    {
        if (random.Next(4) == 0)
        {
            return ReadAsync(process);
        }
        var from = random.Next(Options.Accounts);
        var to = (from + 1 + random.Next(Options.Accounts - 1)) % Options.Accounts;
        var want = 1 + random.Next(5);
        return RecordAsync(process, "transfer", new JsonObject { ["from"] = from, ["to"] = to, ["amount"] = want }, async (txn, ct) =>
        {
            var a = await txn.GetAsync(Key(from), ct);
            var b = await txn.GetAsync(Key(to), ct);
            if (a is null || b is null)
            {
                throw new TxnStoreException(TxnFailure.Definite, "an account is missing");
            }
            var fromBalance = Parse(a);
            var amount = Math.Min(want, fromBalance);
            txn.Put(Key(from), Encoding.UTF8.GetBytes((fromBalance - amount).ToString(CultureInfo.InvariantCulture)));
            txn.Put(Key(to), Encoding.UTF8.GetBytes((Parse(b) + amount).ToString(CultureInfo.InvariantCulture)));
            return new JsonObject { ["from"] = from, ["to"] = to, ["amount"] = amount };
        }, readOnly: false);
    }

    protected override async Task FinishAsync(string process, CancellationToken cancellationToken)
    {
        // One final read that starts after every transfer of this process returned.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!await ReadAsync(process) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200, cancellationToken);
        }
    }

    // A read records the scan's raw rows in the order returned ({"rows": [[account, balance], ...]}),
    // not a map, so a row the scan returned twice (or out of order) stays visible to the checker.
    private Task<bool> ReadAsync(string process) =>
        RecordAsync(process, "read", null, async (txn, ct) =>
        {
            var rows = new JsonArray();
            foreach (var (k, v) in await ReadAllAsync(txn, ct))
            {
                rows.Add(new JsonArray(k, v));
            }
            return new JsonObject { ["rows"] = rows };
        }, readOnly: true);

    private async Task<List<(int Account, long Balance)>> ReadAllAsync(ITxn txn, CancellationToken ct)
    {
        var end = Encoding.UTF8.GetBytes(Prefix[..^1] + "0");
        var pairs = await txn.ScanAsync(Encoding.UTF8.GetBytes(Prefix), end, Options.Accounts + 1000, false, ct);
        var result = new List<(int, long)>(pairs.Count);
        foreach (var (k, v) in pairs)
        {
            result.Add((int.Parse(Encoding.UTF8.GetString(k).AsSpan(Prefix.Length), CultureInfo.InvariantCulture), Parse(v)));
        }
        return result;
    }

    private static long Parse(byte[] value) => long.Parse(Encoding.UTF8.GetString(value), CultureInfo.InvariantCulture);
}

/// <summary>Checks a bank history: every ok read has every account exactly once, in ascending
/// order (duplicate-row, unordered-rows: over the raw scan rows when the read recorded them), sums
/// to the total and has no negative balance; the final read of the history agrees with the ok transfers (exactly when no
/// transfer is info or concurrent with it, else within the bounds those uncertain transfers allow).</summary>
public static class BankChecker
{
    public static CheckResult Check(IReadOnlyList<Operation> ops, int? accounts = null, long? total = null)
    {
        var r = new CheckResult();
        foreach (var init in ops.Where(o => o.F == "init" && o.Type == "ok"))
        {
            accounts ??= (int?)init.Value?["accounts"];
            total ??= (long?)init.Value?["total"];
        }
        if (accounts is not { } n || total is not { } sum)
        {
            r.Violations.Add("setup: no ok init operation in the history and no --accounts/--total given; cannot check");
            return r;
        }
        var initial = sum / n;
        foreach (var op in ops)
        {
            r.Count($"{op.F}-{op.Type}");
        }
        Operation? final = null;
        foreach (var read in ops.Where(o => o.F == "read" && o.Type == "ok"))
        {
            if (Rows(read) is { } rows)
            {
                var dup = rows.GroupBy(x => x.Account).FirstOrDefault(g => g.Count() > 1);
                if (dup is not null)
                {
                    r.Violations.Add($"duplicate-row: the scan returned account {dup.Key} {dup.Count()} times ({string.Join(' ', rows.Select(x => $"{x.Account}={x.Balance}"))}); a scan must return each key once: {read}");
                    continue;
                }
                if (rows.Zip(rows.Skip(1)).Any(p => p.First.Account >= p.Second.Account))
                {
                    r.Violations.Add($"unordered-rows: the scan returned accounts out of key order ({string.Join(' ', rows.Select(x => x.Account))}); a forward scan must ascend: {read}");
                }
            }
            var balances = Balances(read);
            if (balances.Count != n || Enumerable.Range(0, n).Any(i => !balances.ContainsKey(i)))
            {
                r.Violations.Add($"wrong-accounts: read saw {balances.Count} accounts, expected 0..{n - 1}: {read}");
                continue;
            }
            if (balances.Values.Sum() != sum)
            {
                r.Violations.Add($"wrong-total: read sums to {balances.Values.Sum()}, expected {sum}: {read}");
            }
            if (balances.Any(b => b.Value < 0))
            {
                r.Violations.Add($"negative: read has a negative balance: {read}");
            }
            if (final is null || read.Start > final.Start)
            {
                final = read;
            }
        }
        if (final is not null && !r.Violations.Any(v => v.Contains(final.ToString(), StringComparison.Ordinal)))
        {
            CheckFinal(r, ops, final, n, initial);
        }
        return r;
    }

    private static void CheckFinal(CheckResult r, IReadOnlyList<Operation> ops, Operation final, int n, long initial)
    {
        var balances = Balances(final);
        var expect = new long[n];
        var slackIn = new long[n];
        var slackOut = new long[n];
        Array.Fill(expect, initial);
        foreach (var t in ops.Where(o => o.F == "transfer"))
        {
            var from = (int?)t.Value?["from"] ?? -1;
            var to = (int?)t.Value?["to"] ?? -1;
            var amount = (long?)t.Value?["amount"] ?? 0;
            if (from < 0 || from >= n || to < 0 || to >= n)
            {
                continue;
            }
            if (t.Type == "ok" && t.End < final.Start)
            {
                expect[from] -= amount; // committed before the final read began: must be visible
                expect[to] += amount;
            }
            else if (t.Type == "info" || (t.Type == "ok" && t.Start < final.End))
            {
                slackOut[from] += amount; // may or may not be visible
                slackIn[to] += amount;
            }
        }
        for (var i = 0; i < n; i++)
        {
            if (balances[i] < expect[i] - slackOut[i] || balances[i] > expect[i] + slackIn[i])
            {
                r.Violations.Add($"final-balance: account {i} is {balances[i]} in the final read, but the ok transfers that returned before it began give {expect[i]} (uncertain transfers allow -{slackOut[i]}/+{slackIn[i]}): {final}");
            }
        }
    }

    /// <summary>The raw scan rows of a read that recorded them; null for the older map-only form.</summary>
    private static List<(int Account, long Balance)>? Rows(Operation read)
    {
        if (read.Value is not JsonObject o || o["rows"] is not JsonArray rows)
        {
            return null;
        }
        return [.. rows.Select(row => row is JsonArray { Count: 2 } pair
            ? ((int)pair[0]!, (long)pair[1]!)
            : throw new FormatException($"bank read row {row?.ToJsonString()} is not [account, balance]: {read}"))];
    }

    private static Dictionary<int, long> Balances(Operation read)
    {
        var result = new Dictionary<int, long>();
        if (Rows(read) is { } rows)
        {
            foreach (var (account, balance) in rows)
            {
                result[account] = balance;
            }
        }
        else if (read.Value is JsonObject o)
        {
            foreach (var (k, v) in o)
            {
                result[int.Parse(k, CultureInfo.InvariantCulture)] = (long?)v ?? 0;
            }
        }
        return result;
    }
}
