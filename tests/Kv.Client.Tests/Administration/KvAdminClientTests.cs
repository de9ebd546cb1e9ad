using System.Threading.Channels;
using Grpc.Core;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Views;
using Kv.Proto.V1;

namespace Kv.Client.Tests.Administration;

/// <summary>
/// KvAdminClient over the real wire against scripted Admin nodes: following NOT_LEADER (with and
/// without a hint), bounded giving up, mapping placement's refusals to KvAdminException with the
/// server's words, idempotent submit ids, argument checks before any call, and WatchAsync resuming
/// at the new leader after UNAVAILABLE without repeating records.
/// </summary>
public sealed class KvAdminClientTests
{
    private static readonly KvClientOptions Fast = new()
    {
        RequestTimeout = TimeSpan.FromSeconds(5),
        BackoffBase = TimeSpan.FromMilliseconds(5),
        BackoffMax = TimeSpan.FromMilliseconds(50),
        RandomSeed = 7,
    };

    private static OperationRecord Record(string id, OperationState state, ulong revision, uint done = 0, uint left = 2) => new()
    {
        Id = id,
        Spec = new OperationSpec { Kind = OperationKind.DrainStore, StoreId = 4 },
        State = state,
        Revision = revision,
        RequestedBy = "alice",
        Progress = new OperationProgress { RangesDone = done, RangesLeft = left },
    };

    [Fact]
    public async Task A_follower_s_NOT_LEADER_hint_is_followed_to_the_leader_which_gets_the_request_with_who_and_a_valid_generated_id()
    {
        await using var leader = await TestAdminNode.StartAsync();
        await using var follower = await TestAdminNode.StartAsync();
        follower.On<SubmitOperationRequest, SubmitOperationResponse>(_ => new SubmitOperationResponse { Error = TestAdminNode.NotLeader(leader, follower, leader) });
        leader.On<SubmitOperationRequest, SubmitOperationResponse>(r => new SubmitOperationResponse { Operation = Record(r.Id, OperationState.Pending, 1), Created = true });
        await using var admin = KvAdminClient.Connect([follower.Address], Fast, who: "alice");

        var result = await admin.SubmitAsync(OperationRequest.DrainStore(new StoreId(4)));

        Assert.True(result.Created);
        Assert.Equal(OperationKindView.DrainStore, result.Operation.Spec.Kind);
        var sent = Assert.Single(leader.Received<SubmitOperationRequest>());
        Assert.Equal("alice", sent.RequestedBy);
        Assert.Equal(4ul, sent.Spec.StoreId);
        Assert.Equal(OperationKind.DrainStore, sent.Spec.Kind);
        Assert.True(OperationId.TryParse(sent.Id, out _, out var error), error);
        Assert.Equal(sent.Id, result.Operation.Id.Value);
        Assert.Single(follower.Received<SubmitOperationRequest>());
        Assert.Equal(leader.Address, admin.PlacementLeader);
    }

    [Fact]
    public async Task NOT_LEADER_without_a_leader_rotates_through_the_members_it_names_with_backoff()
    {
        await using var leader = await TestAdminNode.StartAsync();
        await using var follower = await TestAdminNode.StartAsync();
        follower.On<GetClusterSettingsRequest, GetClusterSettingsResponse>(_ => new GetClusterSettingsResponse { Error = TestAdminNode.NotLeader(null, follower, leader) });
        leader.On<GetClusterSettingsRequest, GetClusterSettingsResponse>(_ => new GetClusterSettingsResponse { Settings = new ClusterSettings { ReplicationFactor = 3 } });
        await using var admin = KvAdminClient.Connect([follower.Address], Fast);

        var settings = await admin.GetSettingsAsync();

        Assert.Equal(3u, settings.ReplicationFactor);
        Assert.NotEmpty(leader.Received<GetClusterSettingsRequest>());
    }

    [Fact]
    public async Task When_no_node_leads_it_gives_up_Unavailable_within_the_deadline_saying_what_it_tried()
    {
        await using var follower = await TestAdminNode.StartAsync();
        follower.On<ListAuditRequest, ListAuditResponse>(_ => new ListAuditResponse { Error = TestAdminNode.NotLeader(null, follower) });
        await using var admin = KvAdminClient.Connect([follower.Address], new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(1), BackoffBase = Fast.BackoffBase, BackoffMax = Fast.BackoffMax, RandomSeed = 7 });

        var e = await Assert.ThrowsAsync<KvException>(() => admin.ListAuditAsync());

        Assert.Equal(KvErrorKind.Unavailable, e.Kind);
        Assert.Contains("not the placement leader", e.Message, StringComparison.Ordinal);
        Assert.Contains(follower.Address, e.Message, StringComparison.Ordinal);
        Assert.True(follower.Received<ListAuditRequest>().Count > 1, "it retried");
    }

    [Theory]
    [InlineData(PlacementErrorCode.PlacementErrorConflict, KvErrorKind.Conflict)]
    [InlineData(PlacementErrorCode.PlacementErrorFailedPrecondition, KvErrorKind.Refused)]
    [InlineData(PlacementErrorCode.PlacementErrorNotFound, KvErrorKind.NotFound)]
    [InlineData(PlacementErrorCode.PlacementErrorInvalidArgument, KvErrorKind.InvalidArgument)]
    [InlineData(PlacementErrorCode.PlacementErrorStoreRemoved, KvErrorKind.Refused)]
    public async Task A_refusal_is_a_KvAdminException_with_the_server_s_code_and_message_and_is_not_retried(PlacementErrorCode code, KvErrorKind kind)
    {
        await using var leader = await TestAdminNode.StartAsync();
        const string words = "operation op-1 is SUCCEEDED; there is nothing to cancel";
        leader.On<CancelOperationRequest, CancelOperationResponse>(_ => new CancelOperationResponse { Error = new PlacementError { Code = code, Message = words } });
        await using var admin = KvAdminClient.Connect([leader.Address], Fast);

        var e = await Assert.ThrowsAsync<KvAdminException>(() => admin.CancelAsync(OperationId.Parse("op-1"), "test"));

        Assert.Equal(code, e.Code);
        Assert.Equal(kind, e.Kind);
        Assert.Equal(words, e.ServerMessage);
        Assert.Contains(words, e.Message, StringComparison.Ordinal);
        Assert.Contains("cancel operation op-1", e.Message, StringComparison.Ordinal);
        Assert.Single(leader.Received<CancelOperationRequest>());
    }

    [Fact]
    public async Task Resubmitting_a_request_with_its_id_sends_the_same_id_and_returns_the_recorded_operation()
    {
        await using var leader = await TestAdminNode.StartAsync();
        var seen = new HashSet<string>();
        leader.On<SubmitOperationRequest, SubmitOperationResponse>(r => new SubmitOperationResponse { Operation = Record(r.Id, OperationState.Running, 3), Created = seen.Add(r.Id) });
        await using var admin = KvAdminClient.Connect([leader.Address], Fast);
        var request = OperationRequest.MoveReplica(new RangeId(7), new StoreId(4), null).WithNewId();

        var first = await admin.SubmitAsync(request);
        var again = await admin.SubmitAsync(request);

        Assert.True(first.Created);
        Assert.False(again.Created);
        Assert.Equal(first.Operation.Id, again.Operation.Id);
        Assert.Equal(request.Id, first.Operation.Id);
        var sent = leader.Received<SubmitOperationRequest>();
        Assert.Equal(2, sent.Count);
        Assert.Equal(sent[0].Id, sent[1].Id);
        Assert.Equal(0ul, sent[0].Spec.ToStoreId); // the planner picks
    }

    [Fact]
    public async Task Bad_arguments_are_refused_before_any_call_with_what_to_do()
    {
        await using var leader = await TestAdminNode.StartAsync();
        await using var admin = KvAdminClient.Connect([leader.Address], Fast);

        var force = await Assert.ThrowsAsync<ArgumentException>(() => admin.SubmitAsync(OperationRequest.RemoveReplica(new RangeId(1), new StoreId(2)) with { Force = true }));
        Assert.Contains("reason", force.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => admin.PlanAsync(OperationRequest.MoveReplica(new RangeId(1), new StoreId(2), new StoreId(2))));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => admin.SetStoreMaintenanceAsync(new StoreId(1), TimeSpan.FromDays(8)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => admin.UpdateSettingsAsync(8));
        await Assert.ThrowsAsync<ArgumentException>(() => admin.UndrainStoreAsync(new StoreId(0)));
        Assert.False(OperationId.TryParse("bad!id", out _, out var idError));
        Assert.Contains("'!'", idError, StringComparison.Ordinal);

        Assert.Equal(0, leader.ReceivedCount);
    }

    [Fact]
    public async Task A_node_without_the_admin_API_is_reported_as_such()
    {
        await using var old = await TestAdminNode.StartAsync();
        await using var admin = KvAdminClient.Connect([old.Address], Fast);

        var e = await Assert.ThrowsAsync<KvException>(() => admin.GetSchedulerStatusAsync());

        Assert.Equal(KvErrorKind.Internal, e.Kind);
        Assert.Contains("compatible version", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_resumes_at_the_new_leader_after_UNAVAILABLE_and_yields_each_revision_once_until_the_final_record()
    {
        await using var first = await TestAdminNode.StartAsync();
        await using var second = await TestAdminNode.StartAsync();
        const string id = "op-watch";

        // The first leader streams revisions 1 and 2, then loses leadership: the stream ends with
        // UNAVAILABLE and later calls there answer NOT_LEADER naming the second node.
        var lostLeadership = false;
        first.Watch = async (request, stream, _) =>
        {
            if (lostLeadership)
            {
                await stream.WriteAsync(new WatchOperationResponse { Error = TestAdminNode.NotLeader(second, first, second) });
                return;
            }

            await stream.WriteAsync(new WatchOperationResponse { Operation = Record(request.Id, OperationState.Running, 1) });
            await stream.WriteAsync(new WatchOperationResponse { Operation = Record(request.Id, OperationState.Running, 2, done: 1, left: 1) });
            lostLeadership = true;
            throw new RpcException(new Status(StatusCode.Unavailable, "placement leader changed"));
        };

        // The second leader starts with the record now (revision 2 again), then 3 and the final 4.
        second.Watch = async (request, stream, _) =>
        {
            await stream.WriteAsync(new WatchOperationResponse { Operation = Record(request.Id, OperationState.Running, 2, done: 1, left: 1) });
            await stream.WriteAsync(new WatchOperationResponse { Operation = Record(request.Id, OperationState.Running, 3, done: 2, left: 0) });
            await stream.WriteAsync(new WatchOperationResponse { Operation = Record(request.Id, OperationState.Succeeded, 4, done: 2, left: 0) });
        };

        await using var admin = KvAdminClient.Connect([first.Address, second.Address], Fast);
        var seen = new List<OperationView>();
        await foreach (var view in admin.WatchAsync(OperationId.Parse(id)))
        {
            seen.Add(view);
        }

        Assert.Equal([1ul, 2ul, 3ul, 4ul], seen.Select(v => v.Revision));
        Assert.Equal(OperationStateView.Succeeded, seen[^1].State);
        Assert.Equal(2u, seen[^1].Progress.RangesDone);
        Assert.NotEmpty(second.Received<WatchOperationRequest>());
        Assert.All(second.Received<WatchOperationRequest>(), r => Assert.Equal(id, r.Id));
    }

    [Fact]
    public async Task Watch_stops_when_the_caller_cancels_and_WaitAsync_reports_every_record()
    {
        await using var leader = await TestAdminNode.StartAsync();
        var release = Channel.CreateUnbounded<bool>();
        leader.Watch = async (request, stream, context) =>
        {
            await stream.WriteAsync(new WatchOperationResponse { Operation = Record(request.Id, OperationState.Running, 1) });
            if (request.Id == "op-c")
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken); // until the client goes away
            }

            await release.Reader.ReadAsync(context.CancellationToken);
            await stream.WriteAsync(new WatchOperationResponse { Operation = Record(request.Id, OperationState.Failed, 2) });
        };
        await using var admin = KvAdminClient.Connect([leader.Address], Fast);

        using var cts = new CancellationTokenSource();
        var seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var view in admin.WatchAsync(OperationId.Parse("op-c"), cts.Token))
            {
                seen++;
                await cts.CancelAsync();
            }
        });
        Assert.Equal(1, seen);

        var reported = new List<ulong>();
        var waiting = admin.WaitAsync(OperationId.Parse("op-w"), new SyncProgress(v => reported.Add(v.Revision)));
        release.Writer.TryWrite(true);
        var final = await waiting;
        Assert.Equal(OperationStateView.Failed, final.State);
        Assert.Equal([1ul, 2ul], reported);
    }

    /// <summary>IProgress that reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool, which would race the assertion).</summary>
    [Fact]
    public async Task RunAsync_submits_once_with_a_valid_id_watches_that_id_and_returns_the_succeeded_record()
    {
        await using var leader = await TestAdminNode.StartAsync();
        leader.On<SubmitOperationRequest, SubmitOperationResponse>(r => new SubmitOperationResponse { Operation = Record(r.Id, OperationState.Pending, 1), Created = true });
        leader.Watch = async (request, stream, _) =>
        {
            await stream.WriteAsync(new WatchOperationResponse { Operation = Record(request.Id, OperationState.Running, 2, done: 1, left: 1) });
            await stream.WriteAsync(new WatchOperationResponse { Operation = Record(request.Id, OperationState.Succeeded, 3, done: 2, left: 0) });
        };
        await using var admin = KvAdminClient.Connect([leader.Address], Fast);
        var seen = new List<ulong>();

        var final = await admin.RunAsync(OperationRequest.DrainStore(new StoreId(4)), new SyncProgress(v => seen.Add(v.Revision)));

        Assert.Equal(OperationStateView.Succeeded, final.State);
        Assert.Equal(3ul, final.Revision);
        Assert.Equal([2ul, 3ul], seen);
        var sent = Assert.Single(leader.Received<SubmitOperationRequest>());
        Assert.True(OperationId.TryParse(sent.Id, out _, out var error), error);
        Assert.All(leader.Received<WatchOperationRequest>(), w => Assert.Equal(sent.Id, w.Id));
    }

    [Theory]
    [InlineData(OperationState.Failed)]
    [InlineData(OperationState.Cancelled)]
    public async Task RunAsync_throws_KvOperationFailedException_with_the_final_record_when_the_operation_does_not_succeed(OperationState end)
    {
        await using var leader = await TestAdminNode.StartAsync();
        leader.On<SubmitOperationRequest, SubmitOperationResponse>(r => new SubmitOperationResponse { Operation = Record(r.Id, OperationState.Pending, 1), Created = true });
        leader.Watch = async (request, stream, _) =>
        {
            var record = Record(request.Id, end, 2);
            record.Failure = end == OperationState.Failed ? "no eligible store for range 7" : string.Empty;
            record.CancelledBy = end == OperationState.Cancelled ? "bob" : string.Empty;
            await stream.WriteAsync(new WatchOperationResponse { Operation = record });
        };
        await using var admin = KvAdminClient.Connect([leader.Address], Fast);
        var request = OperationRequest.DrainStore(new StoreId(4)).WithNewId();

        var e = await Assert.ThrowsAsync<KvOperationFailedException>(() => admin.RunAsync(request));

        Assert.Equal(KvErrorKind.OperationFailed, e.Kind);
        Assert.Equal(request.Id, e.Operation.Id);
        Assert.Equal(end == OperationState.Failed ? OperationStateView.Failed : OperationStateView.Cancelled, e.Operation.State);
        Assert.Contains(end == OperationState.Failed ? "no eligible store for range 7" : "cancelled by bob", e.Message, StringComparison.Ordinal);
        Assert.Equal(request.Id!.Value.Value, Assert.Single(leader.Received<SubmitOperationRequest>()).Id); // the caller's id, kept
    }

    [Fact]
    public async Task RunAsync_refused_at_submit_is_the_KvAdminException_and_watches_nothing()
    {
        await using var leader = await TestAdminNode.StartAsync();
        leader.On<SubmitOperationRequest, SubmitOperationResponse>(_ => new SubmitOperationResponse
        {
            Error = new PlacementError { Code = PlacementErrorCode.PlacementErrorFailedPrecondition, Message = "range 1 would lose quorum if one more store failed" },
        });
        await using var admin = KvAdminClient.Connect([leader.Address], Fast);

        var e = await Assert.ThrowsAsync<KvAdminException>(() => admin.RunAsync(OperationRequest.RemoveReplica(new RangeId(1), new StoreId(2))));

        Assert.Equal(PlacementErrorCode.PlacementErrorFailedPrecondition, e.Code);
        Assert.Contains("lose quorum", e.ServerMessage, StringComparison.Ordinal);
        Assert.Empty(leader.Received<WatchOperationRequest>());
    }

    private sealed class SyncProgress(Action<OperationView> report) : IProgress<OperationView>
    {
        public void Report(OperationView value) => report(value);
    }
}
