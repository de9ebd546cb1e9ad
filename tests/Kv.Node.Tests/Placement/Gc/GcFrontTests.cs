using Kv.Client;
using Kv.Node.Placement;
using Kv.Node.Placement.Gc;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.PlacementTestData;

namespace Kv.Node.Tests.Placement.Gc;

/// <summary>The GC front the Admin API calls: reads with the TSO's now, refusals before proposing, views.</summary>
public class GcFrontTests
{
    private const long T0 = 1_700_000_000_000;
    private readonly FakePlacementGroup _group = new(1, new PlacementMember { MemberId = 1, Address = "127.0.0.1:7001" });
    private readonly ManualTimeProvider _clock = new(T0);
    private readonly Timestamp _tsoNow = Timestamp.Compose(T0, 5);

    private GcFront Start(GcOptions? options = null)
    {
        _group.Lead(term: 1);
        Assert.Equal(PlacementErrorCode.PlacementErrorNone, _group.State.Apply(Bootstrap()).Code);
        var leadership = new PlacementLeadership(_group, _clock, TimeSpan.FromSeconds(10), 3000);
        return new GcFront(leadership, _ => Task.FromResult<(Timestamp, PlacementError?)>((_tsoNow, null)), options ?? GcOptions.Default);
    }

    [Fact]
    public async Task Status_reports_the_safe_point_the_candidate_and_service_safe_points()
    {
        var front = Start();
        var (service, error) = await front.SetServiceAsync("backup-1", Timestamp.Compose(T0 - 900_000, 0).Value, 60_000, "bob", default);
        Assert.Null(error);
        Assert.True(service!.Live);
        Assert.Equal(T0 + 60_000, service.ExpiresMs);

        var (status, statusError) = await front.StatusAsync(default);
        Assert.Null(statusError);
        Assert.Equal(0UL, status!.SafePoint);
        Assert.Equal(_tsoNow.Value, status.NowTs);
        Assert.Equal(Timestamp.Compose(T0 - 900_000, 0).Value, status.Candidate);
        Assert.Equal(600_000, status.LifeTimeMs);
        Assert.Equal("backup-1", Assert.Single(status.ServiceSafePoints).Name);
    }

    [Fact]
    public async Task A_safe_point_above_the_TSO_now_or_below_the_current_one_is_refused_and_changes_nothing()
    {
        var front = Start();
        var (_, above) = await front.SetSafePointAsync(_tsoNow.Value + 1, "alice", "r", default);
        Assert.Equal(PlacementErrorCode.PlacementErrorInvalidArgument, above!.Code);
        Assert.Contains("above the TSO's now", above.Message, StringComparison.Ordinal);

        var (status, ok) = await front.SetSafePointAsync(Timestamp.Compose(T0 - 1000, 0).Value, "alice", "r", default);
        Assert.Null(ok);
        Assert.Equal(Timestamp.Compose(T0 - 1000, 0).Value, status!.SafePoint);

        var before = _group.State.Snapshot;
        var (_, back) = await front.SetSafePointAsync(Timestamp.Compose(T0 - 2000, 0).Value, "alice", "r", default);
        Assert.Equal(PlacementErrorCode.PlacementErrorFailedPrecondition, back!.Code);
        Assert.Same(before, _group.State.Snapshot);
    }

    [Fact]
    public async Task A_TTL_above_the_configured_maximum_is_refused_before_anything_is_proposed()
    {
        var front = Start(new GcOptions(TimeSpan.FromMinutes(10), TimeSpan.FromHours(1)));
        int applied = _group.Applied.Count;
        var (_, error) = await front.SetServiceAsync("backup-1", _tsoNow.Value, 3_600_001, "bob", default);
        Assert.Equal(PlacementErrorCode.PlacementErrorInvalidArgument, error!.Code);
        Assert.Contains("gc-max-service-ttl", error.Message, StringComparison.Ordinal);
        Assert.Equal(applied, _group.Applied.Count);

        // Control: at the maximum it is accepted.
        var (service, ok) = await front.SetServiceAsync("backup-1", _tsoNow.Value, 3_600_000, "bob", default);
        Assert.Null(ok);
        Assert.Equal("bob", service!.Owner);
    }

    [Fact]
    public async Task Why_ranks_the_service_safe_point_holding_the_candidate_back_first()
    {
        var front = Start();
        await front.SetServiceAsync("backup-1", Timestamp.Compose(T0 - 900_000, 0).Value, 60_000, "bob", default);
        var (explanation, error) = await front.ExplainAsync(default);
        Assert.Null(error);
        Assert.Equal(GcHolderKind.ServiceSafePoint, explanation!.Holders[0].Kind);
        Assert.Equal("bob", explanation.Holders[0].ServiceSafePoint.Owner);
        Assert.Equal(900_000, explanation.Holders[0].AgeMs);
        Assert.Equal(GcHolderKind.LifeTime, explanation.Holders[1].Kind);
    }

    [Fact]
    public async Task A_follower_answers_not_leader()
    {
        var front = Start();
        _group.Follow(2);
        await Assert.ThrowsAsync<PlacementNotLeaderException>(() => front.StatusAsync(default));
    }
}
