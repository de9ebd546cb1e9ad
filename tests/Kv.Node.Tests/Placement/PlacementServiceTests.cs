using Google.Protobuf;
using Grpc.Core;
using Kv.Client.Transport;
using Kv.Node.Server.Hosting;
using Kv.Node.Server.Services;
using Kv.Proto.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Node.Tests.Placement;

/// <summary>
/// <c>kv.v1.Placement</c> served by a real GrpcServer on 127.0.0.1 and called through the generated stub,
/// over a <see cref="FakePlacementGroup"/> (a real PlacementState, no Raft).
/// </summary>
public sealed class PlacementServiceTests : IAsyncLifetime
{
    private const long T0 = 1_700_000_000_000;

    private static readonly PlacementMember[] Members =
    [
        new() { MemberId = 1, Address = "127.0.0.1:7001" },
        new() { MemberId = 2, Address = "127.0.0.1:7002" },
        new() { MemberId = 3, Address = "127.0.0.1:7003" },
    ];

    private readonly FakePlacementGroup _group = new(1, Members);
    private readonly ManualTimeProvider _clock = new(T0);
    private GrpcServer Server { get; set; } = null!;
    private NodeStubs Channel { get; set; } = null!;

    public async Task InitializeAsync()
    {
        _group.Lead(term: 1);
        var service = new PlacementService(_group, new PlacementServiceOptions { ProposalTimeout = TimeSpan.FromSeconds(2), TsoLease = TimeSpan.FromMilliseconds(200) }, _clock, NullLogger.Instance);
        Server = await GrpcServer.StartAsync(new GrpcServerOptions(), services => services.AddSingleton(service), endpoints => endpoints.MapGrpcService<PlacementService>());
        Channel = new NodeStubs(KvChannels.Create(Server.Address));
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
    }

    private Task<TResponse> Call<TRequest, TResponse>(Func<NodeStubs, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call, TRequest request) =>
        call(Channel, request, new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(30))).ResponseAsync;

    private async Task<string> BootstrapAsync()
    {
        var response = await Call(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest());
        Assert.Null(response.Header.Error);
        return response.Header.ClusterId;
    }

    private static StoreDescriptor Store(ulong id, string uuid = "uuid", string? address = null) =>
        new() { StoreId = id, Address = address ?? $"127.0.0.1:{7000 + (int)id}", StoreUuid = uuid, Version = "0.1.0" };

    private static void AssertError(ResponseHeader header, PlacementErrorCode code)
    {
        Assert.NotNull(header.Error);
        Assert.Equal(code, header.Error.Code);
        Assert.False(string.IsNullOrWhiteSpace(header.Error.Message));
    }

    [Fact]
    public async Task Before_bootstrap_cluster_info_says_so_heartbeats_register_nothing_and_other_calls_are_refused()
    {
        var info = await Call(static (s, r, o) => s.Placement.GetClusterInfoAsync(r, o), new GetClusterInfoRequest());
        Assert.Null(info.Header.Error);
        Assert.False(info.Bootstrapped);
        Assert.Equal(3, info.Members.Count);
        Assert.Equal(1UL, info.Leader.MemberId);
        Assert.Equal("127.0.0.1:7001", info.Leader.Address);

        var heartbeat = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1) });
        Assert.Null(heartbeat.Header.Error);
        Assert.False(heartbeat.Bootstrapped);
        Assert.Empty(_group.Applied);

        AssertError((await Call(static (s, r, o) => s.Placement.GetRangeAsync(r, o), new GetRangeRequest())).Header, PlacementErrorCode.PlacementErrorNotBootstrapped);
        AssertError((await Call(static (s, r, o) => s.Placement.AllocIdAsync(r, o), new AllocIdRequest { Count = 1 })).Header, PlacementErrorCode.PlacementErrorNotBootstrapped);
        AssertError((await Call(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest())).Header, PlacementErrorCode.PlacementErrorNotBootstrapped);
        Assert.Empty(_group.Applied);
    }

    [Fact]
    public async Task Bootstrap_creates_the_first_range_on_every_member_once()
    {
        var response = await Call(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest());
        Assert.Null(response.Header.Error);
        string clusterId = response.Header.ClusterId;
        Assert.Equal(32, clusterId.Length);
        var range = response.FirstRange;
        Assert.Equal(1UL, range.RangeId);
        Assert.True(range.StartKey.IsEmpty && range.EndKey.IsEmpty);
        Assert.Equal(new RangeEpoch { ConfVer = 1, Version = 1 }, range.Epoch);
        Assert.Equal([1UL, 2, 3], range.Replicas.Select(r => r.StoreId));
        Assert.All(range.Replicas, r => Assert.Equal(r.StoreId, r.ReplicaId));

        var again = await Call(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest());
        AssertError(again.Header, PlacementErrorCode.PlacementErrorAlreadyBootstrapped);
        Assert.Contains(clusterId, again.Header.Error.Message, StringComparison.Ordinal);
        Assert.Single(_group.Applied);

        var info = await Call(static (s, r, o) => s.Placement.GetClusterInfoAsync(r, o), new GetClusterInfoRequest { Header = new RequestHeader { ClusterId = clusterId } });
        Assert.True(info.Bootstrapped);
        Assert.Equal(T0, info.BootstrappedAtMs);
        Assert.Equal(1u, info.RangeCount);

        var first = await Call(static (s, r, o) => s.Placement.AllocIdAsync(r, o), new AllocIdRequest { Count = 3 });
        Assert.Equal(1001UL, first.First);
    }

    [Fact]
    public async Task A_request_naming_another_cluster_is_refused_naming_both_ids()
    {
        string clusterId = await BootstrapAsync();
        var response = await Call(static (s, r, o) => s.Placement.AllocIdAsync(r, o), new AllocIdRequest { Header = new RequestHeader { ClusterId = "other" }, Count = 1 });
        AssertError(response.Header, PlacementErrorCode.PlacementErrorClusterIdMismatch);
        Assert.Contains(clusterId, response.Header.Error.Message, StringComparison.Ordinal);
        Assert.Contains("other", response.Header.Error.Message, StringComparison.Ordinal);
        Assert.Single(_group.Applied);
    }

    [Fact]
    public async Task A_store_heartbeat_answer_carries_the_GC_safe_point()
    {
        await BootstrapAsync();
        var before = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1) });
        Assert.Equal(0UL, before.GcSafePoint);

        var set = await _group.ProposeAsync(new PlacementCommand
        {
            SetGcSafePoint = new SetGcSafePointCommand { SafePoint = 500, NowTs = 1000, Who = "alice", AtMs = 1 },
        }, CancellationToken.None);
        Assert.Equal(PlacementErrorCode.PlacementErrorNone, set.Code);
        var after = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1) });
        Assert.Equal(500UL, after.GcSafePoint);
    }

    /// <summary>
    /// Regression (found by the system test OperationFaultTests): a store whose bootstrap replica of
    /// range 1 was moved off kept being told the first range and created the replica again.
    /// </summary>
    [Fact]
    public async Task A_heartbeat_names_the_first_range_only_to_a_store_that_still_holds_its_bootstrap_replica()
    {
        await BootstrapAsync();
        var first = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1) });
        Assert.Equal(1UL, first.InitialRange?.RangeId);

        var moved = first.InitialRange!.Clone();
        moved.Epoch = new RangeEpoch { ConfVer = 2, Version = 1 };
        moved.Replicas.Remove(moved.Replicas.Single(r => r.StoreId == 1));
        moved.Replicas.Add(new ReplicaDescriptor { ReplicaId = 1004, StoreId = 4, Role = ReplicaRole.Voter });
        Assert.Equal(PlacementErrorCode.PlacementErrorNone, (await _group.ProposeAsync(new PlacementCommand { PutRange = new PutRangeCommand { Range = moved } }, CancellationToken.None)).Code);

        var after = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1) });
        Assert.Null(after.Header.Error);
        Assert.True(after.Bootstrapped);
        Assert.Null(after.InitialRange);
        var stillThere = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(2) });
        Assert.Equal(1UL, stillThere.InitialRange?.RangeId);
    }

    [Fact]
    public async Task Store_heartbeats_register_a_store_once_drive_liveness_and_refuse_a_second_data_directory()
    {
        await BootstrapAsync();
        var stats = new StoreStats { CapacityBytes = 1000, AvailableBytes = 600, RangeCount = 1 };
        var response = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1), Stats = stats });
        Assert.Null(response.Header.Error);
        Assert.True(response.Bootstrapped);
        Assert.Equal(1UL, response.InitialRange.RangeId);
        Assert.Equal(2, _group.Applied.Count);

        _clock.Advance(1_000);
        await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1), Stats = stats });
        Assert.Equal(2, _group.Applied.Count); // unchanged descriptor: nothing proposed

        var conflict = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1, uuid: "another") });
        AssertError(conflict.Header, PlacementErrorCode.PlacementErrorStoreIdConflict);
        Assert.Contains("another", conflict.Header.Error.Message, StringComparison.Ordinal);

        var invalid = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(2, address: "nowhere") });
        AssertError(invalid.Header, PlacementErrorCode.PlacementErrorInvalidArgument);
        Assert.Equal(2, _group.Applied.Count);

        var moved = await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1, address: "127.0.0.1:9001") });
        Assert.Null(moved.Header.Error);
        Assert.Equal(3, _group.Applied.Count);

        var list = await Call(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest());
        var store = Assert.Single(list.Stores);
        Assert.Equal("127.0.0.1:9001", store.Store.Address);
        Assert.Equal(StoreState.Up, store.State);
        Assert.Equal(T0 + 1_000, store.LastHeartbeatMs);
        Assert.Equal(1000UL, store.Stats.CapacityBytes);

        _clock.Advance(10_000);
        list = await Call(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest());
        Assert.Equal(StoreState.Down, Assert.Single(list.Stores).State);
        var info = await Call(static (s, r, o) => s.Placement.GetClusterInfoAsync(r, o), new GetClusterInfoRequest());
        Assert.Equal(1u, info.StoreCount);
        Assert.Equal(0u, info.StoresUp);
    }

    [Fact]
    public async Task A_new_leader_gives_every_store_a_grace_period_from_takeover()
    {
        await BootstrapAsync();
        await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1) });
        _clock.Advance(60_000);
        Assert.Equal(StoreState.Down, Assert.Single((await Call(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest())).Stores).State);

        _group.Follow(2);
        _group.Lead(term: 5);
        var store = Assert.Single((await Call(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest())).Stores);
        Assert.Equal(StoreState.Up, store.State);
        Assert.Equal(0, store.LastHeartbeatMs);
    }

    [Fact]
    public async Task Range_heartbeats_feed_the_directory_by_epoch_and_reads_resolve_the_leader_address()
    {
        await BootstrapAsync();
        await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(2) });
        int applied = _group.Applied.Count;

        // Range 1 split at "m": the right half (range 2) reports first.
        var right = PlacementTestData.Range(2, "m", "", 2, 1);
        var response = await Call(static (s, r, o) => s.Placement.RangeHeartbeatAsync(r, o), new RangeHeartbeatRequest
        {
            Range = right, Leader = right.Replicas[1], ApproximateSizeBytes = 4096,
        });
        Assert.Null(response.Header.Error);
        Assert.Equal(applied + 1, _group.Applied.Count);

        var got = await Call(static (s, r, o) => s.Placement.GetRangeAsync(r, o), new GetRangeRequest { Key = ByteString.CopyFromUtf8("q") });
        Assert.Null(got.Header.Error);
        Assert.Equal(2UL, got.Range.Range.RangeId);
        Assert.Equal(right.Replicas[1], got.Range.Leader);
        Assert.Equal("127.0.0.1:7002", got.Range.LeaderAddress);
        Assert.Equal(4096UL, got.Range.ApproximateSizeBytes);

        // The left half is a gap until it reports.
        AssertError((await Call(static (s, r, o) => s.Placement.GetRangeAsync(r, o), new GetRangeRequest { Key = ByteString.CopyFromUtf8("a") })).Header, PlacementErrorCode.PlacementErrorNotFound);
        AssertError((await Call(static (s, r, o) => s.Placement.GetRangeByIdAsync(r, o), new GetRangeByIdRequest { RangeId = 1 })).Header, PlacementErrorCode.PlacementErrorNotFound);

        // The same epoch again, and the parent's stale report: nothing proposed.
        await Call(static (s, r, o) => s.Placement.RangeHeartbeatAsync(r, o), new RangeHeartbeatRequest { Range = right, Leader = right.Replicas[0] });
        var parent = PlacementTestData.Range(1, "", "", 1, 1);
        Assert.Null((await Call(static (s, r, o) => s.Placement.RangeHeartbeatAsync(r, o), new RangeHeartbeatRequest { Range = parent, Leader = parent.Replicas[0] })).Header.Error);
        Assert.Equal(applied + 1, _group.Applied.Count);

        var left = PlacementTestData.Range(1, "", "m", 2, 1);
        await Call(static (s, r, o) => s.Placement.RangeHeartbeatAsync(r, o), new RangeHeartbeatRequest { Range = left, Leader = left.Replicas[0] });
        var scan = await Call(static (s, r, o) => s.Placement.ScanRangesAsync(r, o), new ScanRangesRequest());
        Assert.Equal([1UL, 2], scan.Ranges.Select(r => r.Range.RangeId));
        var byId = await Call(static (s, r, o) => s.Placement.GetRangeByIdAsync(r, o), new GetRangeByIdRequest { RangeId = 1 });
        Assert.Equal(ByteString.CopyFromUtf8("m"), byId.Range.Range.EndKey);
        Assert.Equal(string.Empty, byId.Range.LeaderAddress); // store 1 never registered

        var notAReplica = await Call(static (s, r, o) => s.Placement.RangeHeartbeatAsync(r, o), new RangeHeartbeatRequest
        {
            Range = right, Leader = new ReplicaDescriptor { ReplicaId = 999, StoreId = 9 },
        });
        AssertError(notAReplica.Header, PlacementErrorCode.PlacementErrorInvalidArgument);
        var backwards = await Call(static (s, r, o) => s.Placement.ScanRangesAsync(r, o), new ScanRangesRequest { StartKey = ByteString.CopyFromUtf8("z"), EndKey = ByteString.CopyFromUtf8("a") });
        AssertError(backwards.Header, PlacementErrorCode.PlacementErrorInvalidArgument);
    }

    /// <summary>
    /// The automatic split path reports the right half with its origin (issue 13, gap 1): the
    /// heartbeat is proposed even though the descriptor is already known, placement records the
    /// split once, and a malformed origin is refused with what was wrong (nothing changes).
    /// </summary>
    [Fact]
    public async Task A_range_heartbeat_with_a_split_origin_records_the_split_once()
    {
        await BootstrapAsync();
        var left = PlacementTestData.Range(1, "", "m", 2, 1);
        var right = PlacementTestData.Range(2, "m", "", 2, 1);
        Assert.Null((await Call(static (s, r, o) => s.Placement.RangeHeartbeatAsync(r, o), new RangeHeartbeatRequest { Range = left, Leader = left.Replicas[0] })).Header.Error);
        Assert.Null((await Call(static (s, r, o) => s.Placement.RangeHeartbeatAsync(r, o), new RangeHeartbeatRequest { Range = right, Leader = right.Replicas[0] })).Header.Error);
        Assert.Empty(_group.State.Snapshot.Ops.Splits); // an operator's split (no origin) is not recorded
        int applied = _group.Applied.Count;

        var origin = new SplitOrigin { LeftRangeId = 1, Reason = SplitReason.Load, AtMs = T0 };
        Assert.Null((await Call(static (s, r, o) => s.Placement.RangeHeartbeatAsync(r, o), new RangeHeartbeatRequest { Range = right, Leader = right.Replicas[0], Split = origin })).Header.Error);
        Assert.Equal(applied + 1, _group.Applied.Count);
        Assert.Equal(origin, _group.State.Snapshot.Ops.Splits[2].Origin);

        // Again: already recorded, nothing proposed.
        Assert.Null((await Call(static (s, r, o) => s.Placement.RangeHeartbeatAsync(r, o), new RangeHeartbeatRequest { Range = right, Leader = right.Replicas[0], Split = origin })).Header.Error);
        Assert.Equal(applied + 1, _group.Applied.Count);

        // A malformed origin (for a range not yet recorded) is refused and changes nothing.
        var third = PlacementTestData.Range(3, "z", "", 3, 1);
        var bad = await Call(static (s, r, o) => s.Placement.RangeHeartbeatAsync(r, o), new RangeHeartbeatRequest
        {
            Range = third, Leader = third.Replicas[0], Split = new SplitOrigin { LeftRangeId = 3, Reason = SplitReason.Size, AtMs = T0 },
        });
        AssertError(bad.Header, PlacementErrorCode.PlacementErrorInvalidArgument);
        Assert.Contains("must name the range that was split", bad.Header.Error.Message, StringComparison.Ordinal);
        Assert.False(_group.State.Snapshot.RangesById.ContainsKey(3));
    }

    [Fact]
    public async Task AllocId_hands_out_disjoint_batches_and_refuses_a_bad_count()
    {
        await BootstrapAsync();
        var a = await Call(static (s, r, o) => s.Placement.AllocIdAsync(r, o), new AllocIdRequest { Count = 10 });
        var b = await Call(static (s, r, o) => s.Placement.AllocIdAsync(r, o), new AllocIdRequest { Count = 1 });
        Assert.Equal(10u, a.Count);
        Assert.Equal(a.First + 10, b.First);
        AssertError((await Call(static (s, r, o) => s.Placement.AllocIdAsync(r, o), new AllocIdRequest { Count = 0 })).Header, PlacementErrorCode.PlacementErrorInvalidArgument);
        AssertError((await Call(static (s, r, o) => s.Placement.AllocIdAsync(r, o), new AllocIdRequest { Count = 10_001 })).Header, PlacementErrorCode.PlacementErrorInvalidArgument);
    }

    [Fact]
    public async Task Concurrent_timestamp_requests_get_disjoint_increasing_batches_and_share_one_window_extension()
    {
        var calls = Enumerable.Range(0, 40).Select(i => Call(static (s, r, o) => s.Placement.GetTimestampAsync(r, o), new GetTimestampRequest { Count = (uint)(1 + (i % 5)) })).ToArray();
        var responses = await Task.WhenAll(calls);
        var batches = responses.Select(r =>
        {
            Assert.Null(r.Header.Error);
            return (First: r.Last - r.Count + 1, r.Last);
        }).OrderBy(b => b.First).ToList();
        for (int i = 1; i < batches.Count; i++)
        {
            Assert.True(batches[i].First > batches[i - 1].Last, "batches do not overlap");
        }

        Assert.Equal(T0, (long)(batches[0].First >> 18));
        Assert.Single(_group.Applied, c => c.CommandCase == PlacementCommand.CommandOneofCase.ExtendTsoWindow);
        Assert.True(_group.State.Snapshot.TsoWindowEndMs >= T0 + 3_000);

        AssertError((await Call(static (s, r, o) => s.Placement.GetTimestampAsync(r, o), new GetTimestampRequest { Count = 0 })).Header, PlacementErrorCode.PlacementErrorInvalidArgument);
    }

    [Fact]
    public async Task When_the_window_runs_low_it_is_extended_ahead_without_a_caller_waiting_for_it()
    {
        var first = await Call(static (s, r, o) => s.Placement.GetTimestampAsync(r, o), new GetTimestampRequest { Count = 1 });
        Assert.Equal(T0 + 3_000, _group.State.Snapshot.TsoWindowEndMs);
        _clock.Advance(2_500); // half a second of window left: less than a third
        var served = await Call(static (s, r, o) => s.Placement.GetTimestampAsync(r, o), new GetTimestampRequest { Count = 1 });
        Assert.Null(served.Header.Error);
        Assert.Equal(T0 + 2_500, (long)(served.Last >> 18)); // served from the window already persisted

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (_group.State.Snapshot.TsoWindowEndMs < T0 + 5_500)
        {
            Assert.True(DateTime.UtcNow < deadline, "the window was extended ahead in the background");
            await Task.Delay(10);
        }

        Assert.Equal(2, _group.Applied.Count(c => c.ExtendTsoWindow is not null));
        Assert.True(served.Last > first.Last);
    }

    [Fact]
    public async Task Timestamps_keep_increasing_across_a_failover_to_a_leader_whose_clock_is_behind()
    {
        var before = await Call(static (s, r, o) => s.Placement.GetTimestampAsync(r, o), new GetTimestampRequest { Count = 1 });
        _clock.Advance(2_000);
        var later = await Call(static (s, r, o) => s.Placement.GetTimestampAsync(r, o), new GetTimestampRequest { Count = 1 });
        Assert.True(later.Last > before.Last);

        _group.Follow(2);
        AssertError((await Call(static (s, r, o) => s.Placement.GetTimestampAsync(r, o), new GetTimestampRequest { Count = 1 })).Header, PlacementErrorCode.PlacementErrorNotLeader);
        _group.Lead(term: 2);
        _clock.Advance(-30_000);
        int barriers = _group.Barriers;
        var after = await Call(static (s, r, o) => s.Placement.GetTimestampAsync(r, o), new GetTimestampRequest { Count = 1 });
        Assert.Null(after.Header.Error);
        Assert.True(after.Last > later.Last, $"{after.Last} after {later.Last}");
        Assert.True((long)(after.Last >> 18) > _group.Applied.Where(c => c.ExtendTsoWindow is not null).Select(c => c.ExtendTsoWindow.EndMs).SkipLast(1).Max());
        Assert.True(_group.Barriers > barriers, "the new leader read the persisted window after a read barrier in its term");
    }

    [Fact]
    public async Task A_follower_answers_not_leader_naming_the_leader_and_every_member()
    {
        _group.Follow(2);
        var response = await Call(static (s, r, o) => s.Placement.GetClusterInfoAsync(r, o), new GetClusterInfoRequest());
        AssertError(response.Header, PlacementErrorCode.PlacementErrorNotLeader);
        Assert.Equal(2UL, response.Header.Error.Leader.MemberId);
        Assert.Equal("127.0.0.1:7002", response.Header.Error.Leader.Address);
        Assert.Equal(Members, response.Header.Error.Members);

        _group.Follow(0);
        response = await Call(static (s, r, o) => s.Placement.GetClusterInfoAsync(r, o), new GetClusterInfoRequest());
        AssertError(response.Header, PlacementErrorCode.PlacementErrorNotLeader);
        Assert.Equal(0UL, response.Header.Error.Leader.MemberId);
        Assert.Equal(3, response.Header.Error.Members.Count);
    }

    [Fact]
    public async Task A_proposal_that_loses_leadership_answers_not_leader_and_applies_nothing()
    {
        await BootstrapAsync();
        _group.HoldProposals();
        var call = Call(static (s, r, o) => s.Placement.AllocIdAsync(r, o), new AllocIdRequest { Count = 1 });
        await _group.ProposalWaiting.Task.WaitAsync(TimeSpan.FromSeconds(30));
        _group.Follow(3);
        _group.ReleaseProposals();
        var response = await call;
        AssertError(response.Header, PlacementErrorCode.PlacementErrorNotLeader);
        Assert.Equal(3UL, response.Header.Error.Leader.MemberId);
        Assert.Single(_group.Applied);
    }

    [Fact]
    public async Task A_proposal_that_does_not_commit_in_time_answers_unavailable()
    {
        await BootstrapAsync();
        _group.HoldProposals();
        var response = await Call(static (s, r, o) => s.Placement.AllocIdAsync(r, o), new AllocIdRequest { Count = 1 });
        AssertError(response.Header, PlacementErrorCode.PlacementErrorUnavailable);
        _group.ReleaseProposals();
        Assert.Single(_group.Applied);
    }

    [Fact]
    public async Task After_a_restart_from_the_persisted_records_the_directory_and_sequences_continue()
    {
        string clusterId = await BootstrapAsync();
        await Call(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), new StoreHeartbeatRequest { Store = Store(1) });
        var ids = await Call(static (s, r, o) => s.Placement.AllocIdAsync(r, o), new AllocIdRequest { Count = 5 });
        var ts = await Call(static (s, r, o) => s.Placement.GetTimestampAsync(r, o), new GetTimestampRequest { Count = 1 });

        _group.Restart();
        _group.Lead(term: 2);
        var info = await Call(static (s, r, o) => s.Placement.GetClusterInfoAsync(r, o), new GetClusterInfoRequest { Header = new RequestHeader { ClusterId = clusterId } });
        Assert.Null(info.Header.Error);
        Assert.Equal(1u, info.StoreCount);
        Assert.Equal(ids.First + 5, (await Call(static (s, r, o) => s.Placement.AllocIdAsync(r, o), new AllocIdRequest { Count = 1 })).First);
        Assert.True((await Call(static (s, r, o) => s.Placement.GetTimestampAsync(r, o), new GetTimestampRequest { Count = 1 })).Last > ts.Last);
    }
}
