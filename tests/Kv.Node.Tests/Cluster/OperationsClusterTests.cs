using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Kv.Client.Cluster;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Cluster;

/// <summary>
/// Operations end to end on real in-process nodes (RocksDB, Raft, gRPC on loopback): the Admin
/// operation API, the placement leader's executor driving steps through RangeAdmin, drains and
/// their cancel, a placement leader failover mid-move, and the scheduler (replacement of a dead
/// store after its delay but not in maintenance; the replication factor). Waits are on conditions
/// with deadlines.
/// </summary>
[Collection(InProcessClusterCollection.Name)]
public sealed class OperationsClusterTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90); // bounds waits; passing runs take seconds

    /// <summary>Node configuration for tests that must not see the scheduler act on its own.</summary>
    private static Kv.Node.Server.Configuration.NodeConfig Quiet(Kv.Node.Server.Configuration.NodeConfig config) => config with { SchedulerIntervalMs = 3_600_000 };

    private static async Task<InProcessCluster> StartAsync(int nodes, Func<int, Kv.Node.Server.Configuration.NodeConfig, Kv.Node.Server.Configuration.NodeConfig>? configure = null, int members = 3)
    {
        var c = new InProcessCluster(nodes, placementMembers: members) { Configure = configure ?? ((_, config) => Quiet(config)) };
        await Task.WhenAll(Enumerable.Range(0, Math.Min(members, nodes)).Select(c.StartNodeAsync));
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        for (int i = members; i < nodes; i++)
        {
            await c.StartNodeAsync(i);
        }

        await WaitForAsync(async () =>
        {
            var stores = (await c.PlacementAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest { Header = new() }, r => r.Header)).Stores;
            return (stores.Count == nodes && stores.All(s => s.State == StoreState.Up), stores.ToString());
        }, $"{nodes} stores up");
        await c.WaitForRangeLeaderAsync(1);
        return c;
    }

    private static async Task WaitForAsync(Func<Task<(bool Done, string State)>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var (done, state) = await condition();
            if (done)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}; last seen: {state}");
            await Task.Delay(50);
        }
    }

    /// <summary>Calls the Admin API on each live node until one answers other than NOT_LEADER / UNAVAILABLE.</summary>
    private static async Task<T> AdminAsync<T>(InProcessCluster c, Func<Admin.AdminClient, CallOptions, AsyncUnaryCall<T>> call, Func<T, PlacementError?> error)
    {
        var deadline = DateTime.UtcNow + Patience;
        string last = "no attempt";
        while (DateTime.UtcNow < deadline)
        {
            for (int i = 0; i < c.Hosts.Length; i++)
            {
                if (c.Hosts[i] is null)
                {
                    continue;
                }

                try
                {
                    var r = await call(c.Channel(c.Addresses[i]).Admin, new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(15)));
                    if (error(r)?.Code is not (PlacementErrorCode.PlacementErrorNotLeader or PlacementErrorCode.PlacementErrorUnavailable))
                    {
                        return r;
                    }

                    last = error(r)!.Message;
                }
                catch (RpcException e)
                {
                    last = e.Message;
                }
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"no node answered the admin call: {last}");
    }

    /// <summary>The index of the node that leads placement now.</summary>
    private static async Task<int> LeaderIndexAsync(InProcessCluster c)
    {
        int found = -1;
        await WaitForAsync(async () =>
        {
            for (int i = 0; i < c.Hosts.Length; i++)
            {
                if (c.Hosts[i] is null)
                {
                    continue;
                }

                var r = await c.Channel(c.Addresses[i]).Admin.GetClusterSettingsAsync(new GetClusterSettingsRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
                if (r.Error is null)
                {
                    found = i;
                    return (true, "");
                }
            }

            return (false, "no leader");
        }, "a placement leader");
        return found;
    }

    private static Task<SubmitOperationResponse> SubmitAsync(InProcessCluster c, string id, OperationSpec spec, string reason = "test", string by = "tester") =>
        AdminAsync(c, (a, o) => a.SubmitOperationAsync(new SubmitOperationRequest { Id = id, Spec = spec, RequestedBy = by, Reason = reason }, o), r => r.Error);

    private static Task<GetOperationResponse> GetAsync(InProcessCluster c, string id) =>
        AdminAsync(c, (a, o) => a.GetOperationAsync(new GetOperationRequest { Id = id }, o), r => r.Error);

    private static async Task<OperationRecord> WaitForOperationAsync(InProcessCluster c, string id, Func<OperationRecord, bool> condition, string what)
    {
        OperationRecord? seen = null;
        await WaitForAsync(async () =>
        {
            seen = (await GetAsync(c, id)).Operation;
            return (seen is not null && condition(seen), seen?.ToString() ?? "none");
        }, $"operation {id} {what}");
        return seen!;
    }

    private static async Task<OperationRecord> WaitFinishedAsync(InProcessCluster c, string id)
    {
        var record = await WaitForOperationAsync(c, id, r => r.State is OperationState.Succeeded or OperationState.Failed or OperationState.Cancelled, "to finish");
        Assert.True(record.State == OperationState.Succeeded, $"operation {id} did not succeed: {record}");
        return record;
    }

    private static async Task<RangeDescriptor> RangeAsync(InProcessCluster c, ulong id) =>
        (await c.PlacementAsync(static (s, r, o) => s.Placement.GetRangeByIdAsync(r, o), new GetRangeByIdRequest { Header = new(), RangeId = id }, r => r.Header)).Range.Range;

    private static async Task<List<RangeDescriptor>> RangesAsync(InProcessCluster c) =>
        (await c.PlacementAsync(static (s, r, o) => s.Placement.ScanRangesAsync(r, o), new ScanRangesRequest { Header = new() }, r => r.Header)).Ranges.Select(r => r.Range).ToList();

    private static async Task SplitAtAsync(InProcessCluster c, string key)
    {
        var holder = (await c.PlacementAsync(static (s, r, o) => s.Placement.GetRangeAsync(r, o), new GetRangeRequest { Header = new(), Key = ByteString.CopyFromUtf8(key) }, r => r.Header)).Range.Range;
        var submitted = await SubmitAsync(c, $"split-{key}", new OperationSpec { Kind = OperationKind.Split, RangeId = holder.RangeId, SplitKey = ByteString.CopyFromUtf8(key) });
        Assert.Null(submitted.Error);
        await WaitFinishedAsync(c, $"split-{key}");
    }

    private static async Task<List<string>> WriteKeysAsync(KvClient client, int count)
    {
        var keys = Enumerable.Range(0, count).Select(i => $"k{i:D3}").ToList();
        foreach (var k in keys)
        {
            await client.PutAsync(Encoding.UTF8.GetBytes(k), Encoding.UTF8.GetBytes("v-" + k));
        }

        return keys;
    }

    private static async Task ReadBackAsync(KvClient client, List<string> keys)
    {
        foreach (var k in keys)
        {
            var value = await client.GetAsync(Encoding.UTF8.GetBytes(k));
            Assert.True(value is not null, $"key {k} is lost");
            Assert.Equal("v-" + k, Encoding.UTF8.GetString(value));
        }
    }

    private static void AssertRefused(PlacementError? error, PlacementErrorCode code, string? mentions = null)
    {
        Assert.NotNull(error);
        Assert.True(error.Code == code, $"expected {code}, got {error}");
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        if (mentions is not null)
        {
            Assert.Contains(mentions, error.Message, StringComparison.OrdinalIgnoreCase);
        }
    }

    /// <summary>
    /// Stores in zones a, b, c, a. Dry run, bad input, submit, resubmit, watch, list, audit,
    /// cancel of a finished operation, and the preflight's refusal of an unsafe removal, its
    /// override with force and reason (audited), all through the real gRPC API.
    /// </summary>
    [Fact]
    public async Task The_admin_api_plans_submits_watches_and_audits_a_move_refuses_bad_input_and_gates_unsafe_removals()
    {
        string[] zones = ["a", "b", "c", "a"];
        await using var c = await StartAsync(4, (i, config) => Quiet(config) with { Labels = StoreLabels.Parse($"zone={zones[i]}").Labels! });
        await using var client = KvClient.Connect(c.Addresses.Take(3).ToArray(), new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(30) });
        var keys = await WriteKeysAsync(client, 40);
        ulong fourth = c.Hosts[3]!.StoreId;

        // 1. Followers answer NOT_LEADER with the leader and every member.
        int leader = await LeaderIndexAsync(c);
        var follower = await c.Channel(c.Addresses[(leader + 1) % 3]).Admin.GetOperationAsync(new GetOperationRequest { Id = "x" }, deadline: DateTime.UtcNow.AddSeconds(5));
        AssertRefused(follower.Error, PlacementErrorCode.PlacementErrorNotLeader);
        Assert.Equal(3, follower.Error.Members.Count);

        // 2. The dry run returns the plan and changes nothing.
        var move = new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = 1, ToStoreId = fourth };
        var plan = await AdminAsync(c, (a, o) => a.PlanOperationAsync(new PlanOperationRequest { Spec = move }, o), r => r.Error);
        Assert.Null(plan.Error);
        Assert.Single(plan.Plan.Steps);
        Assert.True(plan.Plan.Preflight.Safe);

        // 3. Bad input: refused with what to do, nothing recorded.
        AssertRefused((await SubmitAsync(c, "bad-range", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 99, FromStoreId = 1, ToStoreId = fourth })).Error,
            PlacementErrorCode.PlacementErrorNotFound, "range 99");
        AssertRefused((await SubmitAsync(c, "bad-store", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = 1, ToStoreId = 42 })).Error,
            PlacementErrorCode.PlacementErrorNotFound, "store 42");
        // Store 2 (zone b) to the fourth store (zone a) would put two voters in zone a with store 1.
        AssertRefused((await SubmitAsync(c, "bad-labels", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = 2, ToStoreId = fourth })).Error,
            PlacementErrorCode.PlacementErrorFailedPrecondition, "zone");
        AssertRefused((await SubmitAsync(c, "bad-force", new OperationSpec { Kind = OperationKind.RemoveReplica, RangeId = 1, StoreId = 3, Force = true }, reason: "")).Error,
            PlacementErrorCode.PlacementErrorInvalidArgument, "--reason");
        AssertRefused((await SubmitAsync(c, "bad id!", move)).Error, PlacementErrorCode.PlacementErrorInvalidArgument);
        var none = await AdminAsync(c, (a, o) => a.ListOperationsAsync(new ListOperationsRequest(), o), r => r.Error);
        Assert.Empty(none.Operations);

        // 4. Submit, then watch it to the end: revisions increase, the last message is final.
        var submitted = await SubmitAsync(c, "move-1", move);
        Assert.Null(submitted.Error);
        Assert.True(submitted.Created);
        var watched = new List<OperationRecord>();
        using (var watch = c.Channel(c.Addresses[await LeaderIndexAsync(c)]).Admin.WatchOperation(new WatchOperationRequest { Id = "move-1" }, deadline: DateTime.UtcNow + Patience))
        {
            await foreach (var update in watch.ResponseStream.ReadAllAsync())
            {
                Assert.Null(update.Error);
                watched.Add(update.Operation);
            }
        }

        Assert.Equal(OperationState.Succeeded, watched[^1].State);
        Assert.True(watched.Zip(watched.Skip(1)).All(p => p.First.Revision < p.Second.Revision), "watch revisions increase");
        Assert.Equal(1u, watched[^1].Progress.RangesDone);
        Assert.DoesNotContain((await RangeAsync(c, 1)).Replicas, r => r.StoreId == 1);

        // 5. A resubmit returns the same operation; other content under the id is a conflict.
        var again = await SubmitAsync(c, "move-1", move);
        Assert.Null(again.Error);
        Assert.False(again.Created);
        Assert.Equal(watched[^1].CreatedMs, again.Operation.CreatedMs);
        Assert.Equal(OperationState.Succeeded, again.Operation.State);
        AssertRefused((await SubmitAsync(c, "move-1", move, reason: "another reason")).Error, PlacementErrorCode.PlacementErrorConflict, "move-1");

        // 6. Cancelling a finished or unknown operation is refused.
        AssertRefused((await AdminAsync(c, (a, o) => a.CancelOperationAsync(new CancelOperationRequest { Id = "move-1", Who = "tester" }, o), r => r.Error)).Error,
            PlacementErrorCode.PlacementErrorFailedPrecondition, "finished");
        AssertRefused((await AdminAsync(c, (a, o) => a.CancelOperationAsync(new CancelOperationRequest { Id = "nope", Who = "tester" }, o), r => r.Error)).Error,
            PlacementErrorCode.PlacementErrorNotFound);

        // 7. List and audit.
        var list = await AdminAsync(c, (a, o) => a.ListOperationsAsync(new ListOperationsRequest { States = { OperationState.Succeeded } }, o), r => r.Error);
        Assert.Contains(list.Operations, o => o.Id == "move-1");
        var audit = await AdminAsync(c, (a, o) => a.ListAuditAsync(new ListAuditRequest { OperationId = "move-1" }, o), r => r.Error);
        Assert.Contains(audit.Entries, e => e.Action == AuditAction.Submitted && e.Who == "tester");
        Assert.Contains(audit.Entries, e => e.Action == AuditAction.StepDone && e.EpochAfter is not null);
        Assert.Contains(audit.Entries, e => e.Action == AuditAction.Succeeded);

        // 8. The preflight: removing a voter of a 3-voter range leaves it unable to survive one
        // more failure, so it is refused and nothing is recorded; with --force and a reason it is
        // accepted, runs, and the override is in the audit log.
        var remove = new OperationSpec { Kind = OperationKind.RemoveReplica, RangeId = 1, StoreId = fourth };
        AssertRefused((await SubmitAsync(c, "remove-1", remove)).Error, PlacementErrorCode.PlacementErrorFailedPrecondition, "unsafe");
        AssertRefused((await AdminAsync(c, (a, o) => a.GetOperationAsync(new GetOperationRequest { Id = "remove-1" }, o), r => r.Error)).Error, PlacementErrorCode.PlacementErrorNotFound);
        var forced = remove.Clone();
        forced.Force = true;
        var accepted = await SubmitAsync(c, "remove-1", forced, reason: "store 4 is being retired today");
        Assert.Null(accepted.Error);
        Assert.False(accepted.Operation.Plan.Preflight.Safe);
        await WaitFinishedAsync(c, "remove-1");
        var overrides = await AdminAsync(c, (a, o) => a.ListAuditAsync(new ListAuditRequest { OperationId = "remove-1" }, o), r => r.Error);
        Assert.Contains(overrides.Entries, e => e.Action == AuditAction.Override && e.Reason == "store 4 is being retired today");
        Assert.Equal(2, (await RangeAsync(c, 1)).Replicas.Count);

        // 9. Every key is still there.
        await ReadBackAsync(client, keys);
    }

    [Fact]
    public async Task Store_and_settings_requests_refuse_bad_input_and_a_drain_of_the_last_store()
    {
        await using var c = await StartAsync(1, members: 1);
        AssertRefused((await SubmitAsync(c, "drain-last", new OperationSpec { Kind = OperationKind.DrainStore, StoreId = 1 })).Error,
            PlacementErrorCode.PlacementErrorFailedPrecondition, "last store");
        AssertRefused((await AdminAsync(c, (a, o) => a.GetOperationAsync(new GetOperationRequest { Id = "drain-last" }, o), r => r.Error)).Error, PlacementErrorCode.PlacementErrorNotFound);
        AssertRefused((await AdminAsync(c, (a, o) => a.RemoveStoreAsync(new RemoveStoreRequest { StoreId = 1, Who = "t" }, o), r => r.Error)).Error, PlacementErrorCode.PlacementErrorFailedPrecondition);
        AssertRefused((await AdminAsync(c, (a, o) => a.UndrainStoreAsync(new UndrainStoreRequest { StoreId = 1, Who = "t" }, o), r => r.Error)).Error, PlacementErrorCode.PlacementErrorFailedPrecondition);
        AssertRefused((await AdminAsync(c, (a, o) => a.SetStoreMaintenanceAsync(new SetStoreMaintenanceRequest { StoreId = 42, DurationMs = 1000, Who = "t" }, o), r => r.Error)).Error, PlacementErrorCode.PlacementErrorNotFound);
        AssertRefused((await AdminAsync(c, (a, o) => a.SetStoreMaintenanceAsync(new SetStoreMaintenanceRequest { StoreId = 1, DurationMs = 8L * 86_400_000, Who = "t" }, o), r => r.Error)).Error, PlacementErrorCode.PlacementErrorInvalidArgument);
        AssertRefused((await AdminAsync(c, (a, o) => a.UpdateClusterSettingsAsync(new UpdateClusterSettingsRequest { ReplicationFactor = 9, Who = "t" }, o), r => r.Error)).Error, PlacementErrorCode.PlacementErrorInvalidArgument);
        var settings = await AdminAsync(c, (a, o) => a.GetClusterSettingsAsync(new GetClusterSettingsRequest(), o), r => r.Error);
        Assert.Equal(3u, settings.Settings.ReplicationFactor);
        var stores = await AdminAsync(c, (a, o) => a.ListStoreStatusAsync(new ListStoreStatusRequest(), o), r => r.Error);
        Assert.Equal(StoreAdminState.Active, Assert.Single(stores.Stores).AdminState);
        var paused = await AdminAsync(c, (a, o) => a.SetSchedulerPausedAsync(new SetSchedulerPausedRequest { Paused = true, Who = "t", Reason = "window" }, o), r => r.Error);
        Assert.Null(paused.Error);
        var status = await AdminAsync(c, (a, o) => a.GetSchedulerStatusAsync(new GetSchedulerStatusRequest(), o), r => r.Error);
        Assert.True(status.Paused);
        Assert.Equal("t", status.PausedBy);
        Assert.Equal(30L * 60 * 1000, status.StoreDownReplaceAfterMs);
    }

    /// <summary>
    /// Six ranges on stores 1-3 and a fourth store. A drain of store 2 is cancelled after its first
    /// step (undrain): it ends CANCELLED, store 2 is ACTIVE and keeps what did not move. Then store 1
    /// is drained to the end: it ends DRAINED and holds nothing. Every key reads back after each.
    /// </summary>
    [Fact]
    public async Task A_drain_cancelled_halfway_keeps_the_rest_and_a_full_drain_empties_the_store_with_every_key_intact()
    {
        await using var c = await StartAsync(4);
        await using var client = KvClient.Connect(c.Addresses.Take(3).ToArray(), new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(30) });
        var keys = await WriteKeysAsync(client, 60);
        foreach (var at in new[] { "k010", "k020", "k030", "k040", "k050" })
        {
            await SplitAtAsync(c, at);
        }

        Assert.Equal(6, (await RangesAsync(c)).Count);

        // 1. Drain store 2, undrain it as soon as its first step is done.
        var drain2 = await SubmitAsync(c, "drain-2", new OperationSpec { Kind = OperationKind.DrainStore, StoreId = 2 });
        Assert.Null(drain2.Error);
        Assert.Equal(6, drain2.Operation.Plan.Steps.Count);
        var status = await AdminAsync(c, (a, o) => a.ListStoreStatusAsync(new ListStoreStatusRequest(), o), r => r.Error);
        Assert.Equal(StoreAdminState.Draining, status.Stores.First(s => s.Store.StoreId == 2).AdminState);
        Assert.Equal("drain-2", status.Stores.First(s => s.Store.StoreId == 2).DrainOperationId);
        await WaitForOperationAsync(c, "drain-2", r => r.Progress.RangesDone >= 1 || r.State != OperationState.Running && r.State != OperationState.Pending, "to finish a first step");
        var undrain = await AdminAsync(c, (a, o) => a.UndrainStoreAsync(new UndrainStoreRequest { StoreId = 2, Who = "tester", Reason = "wrong store" }, o), r => r.Error);
        Assert.Null(undrain.Error);
        Assert.Equal(StoreAdminState.Active, undrain.Store.AdminState);
        var cancelled = await WaitForOperationAsync(c, "drain-2", r => r.State is OperationState.Cancelled or OperationState.Succeeded or OperationState.Failed, "to end");
        Assert.Equal(OperationState.Cancelled, cancelled.State);
        var ranges = await RangesAsync(c);
        int kept = ranges.Count(r => r.Replicas.Any(x => x.StoreId == 2));
        Assert.InRange(kept, 1, 5);
        Assert.All(ranges, r => Assert.Equal(3, r.Replicas.Count));
        await ReadBackAsync(client, keys);

        // 2. Drain store 1 to the end.
        var drain1 = await SubmitAsync(c, "drain-1", new OperationSpec { Kind = OperationKind.DrainStore, StoreId = 1 });
        Assert.Null(drain1.Error);
        var done = await WaitFinishedAsync(c, "drain-1");
        Assert.Equal(0u, done.Progress.RangesLeft);
        ranges = await RangesAsync(c);
        Assert.DoesNotContain(ranges, r => r.Replicas.Any(x => x.StoreId == 1));
        Assert.All(ranges, r => Assert.Equal(3, r.Replicas.Count));
        status = await AdminAsync(c, (a, o) => a.ListStoreStatusAsync(new ListStoreStatusRequest(), o), r => r.Error);
        Assert.Equal(StoreAdminState.Drained, status.Stores.First(s => s.Store.StoreId == 1).AdminState);
        AssertRefused((await AdminAsync(c, (a, o) => a.CancelOperationAsync(new CancelOperationRequest { Id = "drain-1", Who = "tester" }, o), r => r.Error)).Error,
            PlacementErrorCode.PlacementErrorFailedPrecondition);
        await ReadBackAsync(client, keys);
    }

    /// <summary>
    /// The placement leader is stopped while a move's learner is held in its snapshot ingest: the
    /// new leader resumes the operation from its record and it completes, data intact.
    /// </summary>
    [Fact]
    public async Task A_move_resumes_on_the_new_placement_leader_after_the_old_one_stops()
    {
        using var hold = new ManualResetEventSlim(false);
        var c0 = new InProcessCluster(4, placementMembers: 3) { Configure = (_, config) => Quiet(config) };
        c0.BeforeStart = (i, host) =>
        {
            if (i == 3)
            {
                host.AfterSnapshotIngest = _ => hold.Wait(TimeSpan.FromSeconds(60));
            }
        };
        await using var c = c0;
        await Task.WhenAll(Enumerable.Range(0, 3).Select(c.StartNodeAsync));
        await c.PlacementAsync(static (s, r, o) => s.Placement.BootstrapAsync(r, o), new BootstrapRequest { Header = new() }, r => r.Header);
        await c.StartNodeAsync(3);
        await c.WaitForRangeLeaderAsync(1);
        await WaitForAsync(async () =>
        {
            var stores = (await c.PlacementAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest { Header = new() }, r => r.Header)).Stores;
            return (stores.Count == 4 && stores.All(s => s.State == StoreState.Up), stores.ToString());
        }, "4 stores up");
        await using var client = KvClient.Connect(c.Addresses.Take(3).ToArray(), new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(30) });
        var keys = await WriteKeysAsync(client, 30);

        int leader = await LeaderIndexAsync(c);
        ulong from = (ulong)(((leader + 1) % 3) + 1); // a store that is not the placement leader's
        var submitted = await SubmitAsync(c, "move-failover", new OperationSpec { Kind = OperationKind.MoveReplica, RangeId = 1, FromStoreId = from, ToStoreId = c.Hosts[3]!.StoreId });
        Assert.Null(submitted.Error);
        await WaitForOperationAsync(c, "move-failover", r => r.State == OperationState.Running && r.Plan.Steps[0].State == StepState.Running, "to run its step");

        // The old leader goes; the snapshot into the fourth store is let through only afterwards.
        await c.StopNodeAsync(leader);
        hold.Set();
        var done = await WaitFinishedAsync(c, "move-failover");
        Assert.Equal(StepState.Done, done.Plan.Steps[^1].State);
        Assert.NotEqual(leader, await LeaderIndexAsync(c));
        var range = await RangeAsync(c, 1);
        Assert.DoesNotContain(range.Replicas, r => r.StoreId == from);
        Assert.Contains(range.Replicas, r => r.StoreId == c.Hosts[3]!.StoreId);
        await ReadBackAsync(client, keys);
    }

    /// <summary>
    /// Store 3 is put in maintenance, then stopped: well past the (short) replace delay the
    /// scheduler replaces nothing. The window is ended: the scheduler replaces store 3's replica
    /// on the fourth store with an operation requested by "scheduler".
    /// </summary>
    [Fact]
    public async Task The_scheduler_replaces_a_dead_stores_replicas_after_the_delay_but_not_during_maintenance()
    {
        await using var c = await StartAsync(4, (_, config) => config with { SchedulerIntervalMs = 100, StoreDownAfterMs = 1000, StoreDownReplaceAfterMs = 2000 });
        await using var client = KvClient.Connect(c.Addresses.Take(3).ToArray(), new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(30) });
        var keys = await WriteKeysAsync(client, 20);
        var window = await AdminAsync(c, (a, o) => a.SetStoreMaintenanceAsync(new SetStoreMaintenanceRequest { StoreId = 3, DurationMs = 3_600_000, Who = "tester", Reason = "kernel upgrade" }, o), r => r.Error);
        Assert.Null(window.Error);
        Assert.True(window.Store.MaintenanceUntilMs > 0);

        await c.StopNodeAsync(2);
        long stoppedMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // 1. Wait for a scheduler pass well after "down longer than the delay" (liveness 1 s + delay 2 s + margin).
        await WaitForAsync(async () =>
        {
            var s = await AdminAsync(c, (a, o) => a.GetSchedulerStatusAsync(new GetSchedulerStatusRequest(), o), r => r.Error);
            return (s.LastPassMs > stoppedMs + 5000, s.ToString());
        }, "a scheduler pass after the delay");
        var ops = await AdminAsync(c, (a, o) => a.ListOperationsAsync(new ListOperationsRequest(), o), r => r.Error);
        Assert.DoesNotContain(ops.Operations, o => o.Spec.Kind == OperationKind.ReplaceStore);
        Assert.Contains((await RangeAsync(c, 1)).Replicas, r => r.StoreId == 3);

        // 2. End the window: the replacement follows.
        var ended = await AdminAsync(c, (a, o) => a.SetStoreMaintenanceAsync(new SetStoreMaintenanceRequest { StoreId = 3, DurationMs = 0, Who = "tester" }, o), r => r.Error);
        Assert.Null(ended.Error);
        await WaitForAsync(async () =>
        {
            var range = await RangeAsync(c, 1);
            return (range.Replicas.Count == 3 && range.Replicas.All(r => r.StoreId != 3 && r.Role == ReplicaRole.Voter), range.ToString());
        }, "store 3's replica to be replaced");
        ops = await AdminAsync(c, (a, o) => a.ListOperationsAsync(new ListOperationsRequest(), o), r => r.Error);
        var replace = Assert.Single(ops.Operations, o => o.Spec.Kind == OperationKind.ReplaceStore);
        Assert.Equal("scheduler", replace.RequestedBy);
        var status = await AdminAsync(c, (a, o) => a.GetSchedulerStatusAsync(new GetSchedulerStatusRequest(), o), r => r.Error);
        Assert.Contains(status.Recent, e => e.OperationId == replace.Id);
        await ReadBackAsync(client, keys);
    }

    /// <summary>Five stores, replication factor 3: a fourth voter added by hand is removed again by the scheduler.</summary>
    [Fact]
    public async Task The_scheduler_keeps_three_replicas_per_range_on_five_stores()
    {
        await using var c = await StartAsync(5, (_, config) => config with { SchedulerIntervalMs = 100 });
        var before = await RangeAsync(c, 1);
        Assert.Equal(3, before.Replicas.Count);
        ulong extra = c.Hosts.Select(h => h!.StoreId).First(s => before.Replicas.All(r => r.StoreId != s));
        var added = await SubmitAsync(c, "add-4th", new OperationSpec { Kind = OperationKind.AddReplica, RangeId = 1, StoreId = extra });
        Assert.Null(added.Error);
        await WaitFinishedAsync(c, "add-4th");
        await WaitForAsync(async () =>
        {
            var ops = await AdminAsync(c, (a, o) => a.ListOperationsAsync(new ListOperationsRequest(), o), r => r.Error);
            var range = await RangeAsync(c, 1);
            bool removed = ops.Operations.Any(o => o.RequestedBy == "scheduler" && o.Spec.Kind == OperationKind.RemoveReplica && o.State == OperationState.Succeeded);
            return (removed && range.Replicas.Count == 3, $"{range} / {ops}");
        }, "the scheduler to bring range 1 back to 3 replicas");
        var status = await AdminAsync(c, (a, o) => a.GetSchedulerStatusAsync(new GetSchedulerStatusRequest(), o), r => r.Error);
        Assert.Equal(3u, status.ReplicationFactor);
    }
}
