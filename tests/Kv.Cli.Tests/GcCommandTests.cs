using System.Text.Json;
using Kv.Cli.Commands;
using Kv.Cli.Output;
using Kv.Client;
using Kv.Client.Views;

namespace Kv.Cli.Tests;

/// <summary><c>kvctl gc</c>: timestamps from the command line, and the status, service list and why output.</summary>
public sealed class GcCommandTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-12-05T19:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    private static Timestamp At(DateTimeOffset t) => Timestamp.Compose(t.ToUnixTimeMilliseconds(), 0);

    private static ServiceSafePointView Service(string name, string owner, DateTimeOffset ts, bool live = true) =>
        new(name, owner, At(ts), ts, TimeSpan.FromMinutes(10), Now.AddHours(-1), Now.AddMinutes(-1), Now.AddMinutes(9), live);

    [Fact]
    public void A_timestamp_is_a_TSO_number_an_ISO_time_or_a_duration_ago()
    {
        Assert.Equal(new Timestamp(123456789), GcCommand.ParseTimestamp("123456789", Now, out _));
        Assert.Equal(At(Now.AddMinutes(-30)), GcCommand.ParseTimestamp("30m", Now, out _));
        Assert.Equal(At(DateTimeOffset.Parse("2026-12-05T18:00:00Z", System.Globalization.CultureInfo.InvariantCulture)),
            GcCommand.ParseTimestamp("2026-12-05T18:00:00Z", Now, out _));

        Assert.Null(GcCommand.ParseTimestamp("0", Now, out var zero));
        Assert.Contains("timestamp 0", zero, StringComparison.Ordinal);
        Assert.Null(GcCommand.ParseTimestamp("yesterday", Now, out var bad));
        Assert.Contains("not a TSO timestamp", bad, StringComparison.Ordinal);
    }

    [Fact]
    public void Status_shows_the_safe_point_as_timestamp_and_wall_time_and_the_rounds()
    {
        var safePoint = At(Now.AddMinutes(-20));
        var view = new GcStatusView(safePoint, Now.AddMinutes(-20), "alice", "nightly", Now.AddMinutes(-19), At(Now), At(Now.AddMinutes(-10)), Now.AddMinutes(-10),
            TimeSpan.FromMinutes(10), null, null, [Service("backup-1", "bob", Now.AddHours(-2)), Service("old", "carol", Now.AddHours(-3), live: false)]);
        var table = new StringWriter();
        GcCommand.WriteStatus(table, OutputFormat.Table, view);
        string text = table.ToString();
        Assert.Contains($"{safePoint.Value} (2026-12-05T18:40:00Z)", text, StringComparison.Ordinal);
        Assert.Contains("alice at 2026-12-05T18:41:00Z (nightly)", text, StringComparison.Ordinal);
        Assert.Contains("last round", text, StringComparison.Ordinal);
        Assert.Contains("none scheduled", text, StringComparison.Ordinal);
        Assert.Contains("1 live, 1 expired", text, StringComparison.Ordinal);

        var json = new StringWriter();
        GcCommand.WriteStatus(json, OutputFormat.Json, view);
        using var doc = JsonDocument.Parse(json.ToString());
        Assert.Equal("GcStatus", doc.RootElement.GetProperty("kind").GetString());
        Assert.Equal(safePoint.Value, doc.RootElement.GetProperty("safePoint").GetUInt64());
        Assert.Equal("2026-12-05T18:40:00.000Z", doc.RootElement.GetProperty("safePointTime").GetString());
        Assert.Equal(600, doc.RootElement.GetProperty("lifeTime").GetDouble());
    }

    [Fact]
    public void A_held_back_candidate_points_to_gc_why()
    {
        var sp = At(Now.AddHours(-2));
        var view = new GcStatusView(sp, null, null, null, null, At(Now), sp, null, TimeSpan.FromMinutes(10), null, null, []);
        var table = new StringWriter();
        GcCommand.WriteStatus(table, OutputFormat.Table, view);
        Assert.Contains("held back: `kvctl gc why`", table.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Why_ranks_holders_lowest_first_with_owner_TTL_and_last_renewal()
    {
        var backup = Service("backup-1", "bob", Now.AddHours(-2));
        var view = new GcExplanationView(Timestamp.Zero, At(Now.AddHours(-2)), At(Now),
        [
            new GcHolderView(GcHolderKindView.ServiceSafePoint, backup.Ts, backup.TsTime, TimeSpan.FromHours(2), "service safe point 'backup-1'", backup, null),
            new GcHolderView(GcHolderKindView.LifeTime, At(Now.AddMinutes(-10)), Now.AddMinutes(-10), TimeSpan.FromMinutes(10), "GC life time", null, null),
        ]);
        var table = new StringWriter();
        GcCommand.WriteWhy(table, OutputFormat.Table, view);
        var lines = table.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        int header = Array.FindIndex(lines, l => l.StartsWith('#'));
        Assert.Contains("service backup-1", lines[header + 1], StringComparison.Ordinal);
        Assert.Contains("bob", lines[header + 1], StringComparison.Ordinal);
        Assert.Contains("10m", lines[header + 1], StringComparison.Ordinal);
        Assert.Contains("2026-12-05T18:59:00Z", lines[header + 1], StringComparison.Ordinal);
        Assert.Contains("life time", lines[header + 2], StringComparison.Ordinal);
    }

    [Fact]
    public void The_service_list_says_so_when_there_are_none_and_lists_each_otherwise()
    {
        var none = new StringWriter();
        GcCommand.WriteServices(none, OutputFormat.Table, []);
        Assert.Equal("no service safe points", none.ToString().Trim());

        var json = new StringWriter();
        GcCommand.WriteServices(json, OutputFormat.Json, [Service("backup-1", "bob", Now.AddHours(-2))]);
        using var doc = JsonDocument.Parse(json.ToString());
        var item = doc.RootElement.GetProperty("items")[0];
        Assert.Equal("bob", item.GetProperty("owner").GetString());
        Assert.True(item.GetProperty("live").GetBoolean());
    }
}
