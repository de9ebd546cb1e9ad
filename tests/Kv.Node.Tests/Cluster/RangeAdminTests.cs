using Google.Protobuf;
using Grpc.Core;
using Kv.Client.Cluster;
using Kv.Node.Ranges;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Cluster;

/// <summary>
/// kv.v1.RangeAdmin/ExecuteStep on real in-process nodes: every step kind executed as the
/// placement leader's executor will (the same step, the epoch the plan saw, following NotLeader
/// hints and retrying Transient), a stale epoch refused with nothing changed, a move resumed
/// after its learner was added (and kept while it could not catch up), NotLeader from a follower.
/// </summary>
[Collection(InProcessClusterCollection.Name)]
public sealed class RangeAdminTests
{
    private static async Task<(InProcessCluster Cluster, ulong Fourth)> StartFourAsync()
    {
        var c = new InProcessCluster(4, placementMembers: 3);
        await Task.WhenAll(Enumerable.Range(0, 3).Select(c.StartNodeAsync));
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.StartNodeAsync(3);
        var fourth = c.Hosts[3]!.StoreId;
        var deadline = DateTime.UtcNow.AddSeconds(40);
        while ((await c.PlacementAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest { Header = new() }, r => r.Header)).Stores
            .FirstOrDefault(s => s.Store.StoreId == fourth) is not { State: StoreState.Up })
        {
            Assert.True(DateTime.UtcNow < deadline, $"store {fourth} never came up");
            await Task.Delay(50);
        }

        await c.WaitForRangeLeaderAsync(1);
        return (c, fourth);
    }

    private static int NodeOf(InProcessCluster c, ulong storeId) => Array.FindIndex(c.Hosts, h => h is not null && h.StoreId == storeId);

    private static async Task<ExecuteStepResponse> ExecuteAsync(InProcessCluster c, int node, PlanStep step, uint waitMs = 0, bool abort = false) =>
        await new RangeAdmin.RangeAdminClient(c.Channel(c.Addresses[node]).Channel).ExecuteStepAsync(
            new ExecuteStepRequest { OperationId = "test-op", Step = step, WaitMs = waitMs, Abort = abort },
            new CallOptions(deadline: DateTime.UtcNow.AddSeconds(60)));

    /// <summary>
    /// Drives one step to Done the way an executor does: starts at the leader, executes the same
    /// step on the hinted leader after NotLeader, executes it again after Transient. Returns the
    /// Done response and the outcomes seen on the way.
    /// </summary>
    private static async Task<(ExecuteStepResponse Done, List<ExecuteStepResponse.OutcomeOneofCase> Trace)> DriveAsync(InProcessCluster c, PlanStep step, uint waitMs = 5000)
    {
        var trace = new List<ExecuteStepResponse.OutcomeOneofCase>();
        var node = await ReplicaChangeTests.LeaderNodeAsync(c);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            var r = await ExecuteAsync(c, node, step, waitMs);
            trace.Add(r.OutcomeCase);
            switch (r.OutcomeCase)
            {
                case ExecuteStepResponse.OutcomeOneofCase.Done:
                    return (r, trace);
                case ExecuteStepResponse.OutcomeOneofCase.NotLeader when r.NotLeader.Leader is { } leader:
                    node = NodeOf(c, leader.StoreId);
                    break;
                case ExecuteStepResponse.OutcomeOneofCase.NotLeader or ExecuteStepResponse.OutcomeOneofCase.Transient:
                    break;
                default:
                    Assert.Fail($"step {step.Kind} answered {r.OutcomeCase}: {r.Message}");
                    break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"step {step.Kind} did not finish: {string.Join(", ", trace)}; last: {r.Message}");
            await Task.Delay(20); // retry backoff after a hint or a transient answer, not a wait for state
        }
    }

    private static PlanStep Step(StepKind kind, RangeDescriptor planned, ulong store = 0, ulong from = 0, ulong to = 0, string? key = null) => new()
    {
        Kind = kind,
        RangeId = planned.RangeId,
        Epoch = planned.Epoch.Clone(),
        StoreId = store,
        FromStoreId = from,
        ToStoreId = to,
        SplitKey = key is null ? ByteString.Empty : ByteString.CopyFromUtf8(key),
    };

    [Fact]
    public async Task Every_step_kind_runs_through_real_nodes_and_a_stale_or_misrouted_step_changes_nothing()
    {
        var (c, fourth) = await StartFourAsync();
        await using var _ = c;
        await using var client = KvClient.Connect(c.Addresses.Take(3).ToArray());
        for (var i = 0; i < 20; i++)
        {
            await client.PutAsync(ByteString.CopyFromUtf8($"k{i:D2}").ToByteArray(), "v"u8.ToArray());
        }

        var leaderNode = await ReplicaChangeTests.LeaderNodeAsync(c);
        var planned = ReplicaChangeTests.DescriptorOn(c, leaderNode)!;
        var leaderStore = c.Hosts[leaderNode]!.StoreId;
        var followerNode = Enumerable.Range(0, 3).First(i => i != leaderNode);
        var followerStore = c.Hosts[followerNode]!.StoreId;

        // 1. NotLeader with the hint, from a follower; nothing changes.
        var misrouted = await ExecuteAsync(c, followerNode, Step(StepKind.TransferLeader, planned, store: followerStore));
        Assert.Equal(ExecuteStepResponse.OutcomeOneofCase.NotLeader, misrouted.OutcomeCase);
        Assert.Equal(leaderStore, misrouted.NotLeader.Leader.StoreId);
        Assert.Equal(c.Addresses[leaderNode], misrouted.NotLeader.LeaderAddress);
        Assert.Equal(leaderNode, await ReplicaChangeTests.LeaderNodeAsync(c));

        // 2. A stale epoch (a conf_ver the range never had): EpochChanged with the range as it is; nothing changes.
        var stalePlan = planned.Clone();
        stalePlan.Epoch.ConfVer += 5;
        var stale = await ExecuteAsync(c, leaderNode, Step(StepKind.RemoveReplica, stalePlan, store: followerStore));
        Assert.Equal(ExecuteStepResponse.OutcomeOneofCase.EpochChanged, stale.OutcomeCase);
        Assert.Equal(planned, stale.EpochChanged.Current[0]);
        Assert.All(Enumerable.Range(0, 3), i => Assert.Equal(planned, ReplicaChangeTests.DescriptorOn(c, i)));

        // 3. TransferLeader: the follower leads afterwards.
        var (transferred, _) = await DriveAsync(c, Step(StepKind.TransferLeader, planned, store: followerStore));
        Assert.Equal(planned, transferred.Range);
        Assert.Equal(followerNode, await ReplicaChangeTests.LeaderNodeAsync(c));

        // 4. MoveReplica off the leader's own store: leadership leaves it first (NotLeader with the
        //    hint), the same step finishes on the new leader: learner, joint swap, joint left.
        var (moved, trace) = await DriveAsync(c, Step(StepKind.MoveReplica, planned, from: followerStore, to: fourth));
        Assert.Contains(ExecuteStepResponse.OutcomeOneofCase.NotLeader, trace);
        Assert.Equal(planned.Epoch.ConfVer + 3, moved.Range.Epoch.ConfVer);
        Assert.DoesNotContain(moved.Range.Replicas, r => r.StoreId == followerStore);
        Assert.Contains(moved.Range.Replicas, r => r.StoreId == fourth && r.Role == ReplicaRole.Voter);
        await ReplicaChangeTests.WaitForAsync(() => c.Hosts[followerNode]!.Ranges.Get(1) is null, $"store {followerStore} to destroy its moved-away replica");

        // 5. The same move again: already done, answered with the range, nothing changes.
        var again = await ExecuteAsync(c, await ReplicaChangeTests.LeaderNodeAsync(c), Step(StepKind.MoveReplica, planned, from: followerStore, to: fourth));
        Assert.Equal(ExecuteStepResponse.OutcomeOneofCase.Done, again.OutcomeCase);
        Assert.Equal(moved.Range, again.Range);

        // 6. AddReplica back on the old store (a new replica id, a snapshot), then RemoveReplica of it.
        var (added, _) = await DriveAsync(c, Step(StepKind.AddReplica, moved.Range, store: followerStore));
        Assert.Equal(moved.Range.Epoch.ConfVer + 2, added.Range.Epoch.ConfVer);
        Assert.Contains(added.Range.Replicas, r => r.StoreId == followerStore && r.Role == ReplicaRole.Voter);
        Assert.Equal(4, added.Range.Replicas.Count);
        var (removed, _) = await DriveAsync(c, Step(StepKind.RemoveReplica, added.Range, store: followerStore));
        Assert.Equal(added.Range.Epoch.ConfVer + 1, removed.Range.Epoch.ConfVer);
        Assert.DoesNotContain(removed.Range.Replicas, r => r.StoreId == followerStore);

        // 7. Split, then the same split step again: already applied, both halves answered, no second split.
        var splitStep = Step(StepKind.Split, removed.Range, key: "k10");
        var (split, _) = await DriveAsync(c, splitStep);
        Assert.Equal(ByteString.CopyFromUtf8("k10"), split.Range.EndKey);
        Assert.Equal(ByteString.CopyFromUtf8("k10"), split.Done.Right.StartKey);
        Assert.Equal(removed.Range.Epoch.Version + 1, split.Range.Epoch.Version);
        var (splitAgain, _) = await DriveAsync(c, splitStep);
        Assert.Equal(split.Range, splitAgain.Range);
        Assert.Equal(split.Done.Right.RangeId, splitAgain.Done.Right.RangeId);

        // 8. A step planned before the split is stale now: EpochChanged, nothing changes.
        var beforeSplit = await ExecuteAsync(c, await ReplicaChangeTests.LeaderNodeAsync(c), Step(StepKind.TransferLeader, removed.Range, store: fourth));
        Assert.Equal(ExecuteStepResponse.OutcomeOneofCase.EpochChanged, beforeSplit.OutcomeCase);
        Assert.Equal(split.Range, beforeSplit.EpochChanged.Current[0]);
    }

    [Fact]
    public async Task A_move_whose_learner_cannot_catch_up_answers_transient_keeps_the_learner_and_resumes_with_it()
    {
        var (c, fourth) = await StartFourAsync();
        await using var _ = c;
        await using var client = KvClient.Connect(c.Addresses.Take(3).ToArray());
        for (var i = 0; i < 20; i++)
        {
            await client.PutAsync(ByteString.CopyFromUtf8($"k{i:D2}").ToByteArray(), "v"u8.ToArray());
        }

        // Snapshots to the fourth store fail until released: its learner cannot catch up.
        var failing = 1;
        c.Hosts[3]!.Store!.BeforeSnapshotStep = _ =>
        {
            if (Volatile.Read(ref failing) == 1)
            {
                throw new InvalidOperationException("test: snapshot refused");
            }
        };

        var leaderNode = await ReplicaChangeTests.LeaderNodeAsync(c);
        var planned = ReplicaChangeTests.DescriptorOn(c, leaderNode)!;
        var from = planned.Replicas.First(r => r.StoreId != c.Hosts[leaderNode]!.StoreId).StoreId;
        var move = Step(StepKind.MoveReplica, planned, from: from, to: fourth);

        // 1. The learner is added, cannot catch up within the wait: Transient CatchingUp with progress.
        var first = await ExecuteAsync(c, leaderNode, move, waitMs: 300);
        Assert.Equal(ExecuteStepResponse.OutcomeOneofCase.Transient, first.OutcomeCase);
        Assert.Equal(StepTransientKind.CatchingUp, first.Transient.Kind);
        Assert.Equal(fourth, first.Transient.StoreId);
        Assert.True(first.Transient.LastIndex > first.Transient.MatchIndex, first.Message);
        var learner = Assert.Single(first.Range.Replicas, r => r.StoreId == fourth);
        Assert.Equal(ReplicaRole.Learner, learner.Role);
        Assert.Equal(planned.Epoch.ConfVer + 1, first.Range.Epoch.ConfVer);

        // 2. Executed again (the plan's epoch, one conf_ver behind): the same learner, no second one.
        var second = await ExecuteAsync(c, leaderNode, move, waitMs: 300);
        Assert.Equal(ExecuteStepResponse.OutcomeOneofCase.Transient, second.OutcomeCase);
        Assert.Equal(first.Range, second.Range);

        // 3. Snapshots succeed again: the same step finishes with that learner as the new voter.
        Volatile.Write(ref failing, 0);
        var (done, _) = await DriveAsync(c, move);
        Assert.Contains(done.Range.Replicas, r => r.ReplicaId == learner.ReplicaId && r.Role == ReplicaRole.Voter);
        Assert.DoesNotContain(done.Range.Replicas, r => r.StoreId == from);
        Assert.Equal(planned.Epoch.ConfVer + 3, done.Range.Epoch.ConfVer);

        // 4. A step planned at the old epoch that this history does not explain is stale: nothing changes.
        var foreign = await ExecuteAsync(c, await ReplicaChangeTests.LeaderNodeAsync(c), Step(StepKind.AddReplica, planned, store: from));
        Assert.Equal(ExecuteStepResponse.OutcomeOneofCase.EpochChanged, foreign.OutcomeCase);
        Assert.Equal(done.Range, foreign.EpochChanged.Current[0]);
    }

    /// <summary>
    /// Abort (a cancelled operation undoing its running step): before the step changed anything it
    /// answers done and changes nothing; with the move's learner added and unable to catch up, it
    /// removes that learner, leaving the planned voters; aborting again changes nothing more.
    /// </summary>
    [Fact]
    public async Task Aborting_a_move_removes_the_learner_it_added_and_changes_nothing_else()
    {
        var (c, fourth) = await StartFourAsync();
        await using var _ = c;
        await using var client = KvClient.Connect(c.Addresses.Take(3).ToArray());
        for (var i = 0; i < 20; i++)
        {
            await client.PutAsync(ByteString.CopyFromUtf8($"k{i:D2}").ToByteArray(), "v"u8.ToArray());
        }

        c.Hosts[3]!.Store!.BeforeSnapshotStep = _ => throw new InvalidOperationException("test: snapshot refused");
        var leaderNode = await ReplicaChangeTests.LeaderNodeAsync(c);
        var planned = ReplicaChangeTests.DescriptorOn(c, leaderNode)!;
        var from = planned.Replicas.First(r => r.StoreId != c.Hosts[leaderNode]!.StoreId).StoreId;
        var move = Step(StepKind.MoveReplica, planned, from: from, to: fourth);

        // 1. Nothing done yet: done, the range as planned.
        var untouched = await ExecuteAsync(c, leaderNode, move, abort: true);
        Assert.Equal(ExecuteStepResponse.OutcomeOneofCase.Done, untouched.OutcomeCase);
        Assert.Equal(planned, untouched.Range);

        // 2. The learner is added and cannot catch up; the abort removes it.
        var stuck = await ExecuteAsync(c, leaderNode, move, waitMs: 300);
        Assert.Equal(StepTransientKind.CatchingUp, stuck.Transient.Kind);
        Assert.Contains(stuck.Range.Replicas, r => r.StoreId == fourth && r.Role == ReplicaRole.Learner);
        var aborted = await ExecuteAsync(c, leaderNode, move, abort: true);
        Assert.Equal(ExecuteStepResponse.OutcomeOneofCase.Done, aborted.OutcomeCase);
        Assert.DoesNotContain(aborted.Range.Replicas, r => r.StoreId == fourth);
        Assert.Equal(planned.Replicas.Select(r => r.ReplicaId).Order(), aborted.Range.Replicas.Select(r => r.ReplicaId).Order());
        Assert.Equal(planned.Epoch.ConfVer + 2, aborted.Range.Epoch.ConfVer);

        // 3. Again: nothing more changes (the range no longer shows this step's state).
        var again = await ExecuteAsync(c, leaderNode, move, abort: true);
        Assert.Equal(ExecuteStepResponse.OutcomeOneofCase.Done, again.OutcomeCase);
        Assert.Equal(aborted.Range, again.Range);
        Assert.Equal(aborted.Range, ReplicaChangeTests.DescriptorOn(c, leaderNode));
    }

    [Fact]
    public async Task The_store_signals_a_waiting_condition_and_a_wait_on_an_unknown_group_fails()
    {
        var (c, _) = await StartFourAsync();
        await using var __ = c;
        var leaderNode = await ReplicaChangeTests.LeaderNodeAsync(c);
        var store = c.Hosts[leaderNode]!.Store!;

        // A condition that never holds times out with null; one on a missing group fails at once.
        Assert.Null(await store.WaitForAsync(1, g => g.Node.Term == 0 ? "never" : null, TimeSpan.FromMilliseconds(100), CancellationToken.None));
        await Assert.ThrowsAsync<GroupNotFoundException>(() => store.WaitForAsync(424242, _ => "x", TimeSpan.FromSeconds(5), CancellationToken.None));

        // A condition true at once completes at registration; one that becomes true (an entry
        // applied past the current index) completes when the store signals the apply.
        Assert.Equal("now", await store.WaitForAsync(1, _ => "now", TimeSpan.FromSeconds(5), CancellationToken.None));
        var applied = (await store.StatusAsync()).First(s => s.GroupId == 1).Applied;
        var waiting = store.WaitForAsync(1, g => g.Applied > applied ? "applied" : null, TimeSpan.FromSeconds(30), CancellationToken.None);
        await using var client = KvClient.Connect(c.Addresses.Take(3).ToArray());
        await client.PutAsync("signal"u8.ToArray(), "v"u8.ToArray());
        Assert.Equal("applied", await waiting);
    }
}
