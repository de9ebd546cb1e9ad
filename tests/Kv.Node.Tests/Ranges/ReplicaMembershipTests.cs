using Google.Protobuf;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Server.Hosting;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Node.Tests.Ranges;

/// <summary>
/// Membership changes of a range on one store: the descriptor follows the applied configuration
/// in the same batch (conf_ver + 1, roles, stores from the ReplicaChange context), the change's
/// context survives the log encoding, and a destroyed replica takes exactly its own state with it.
/// </summary>
public sealed class ReplicaMembershipTests
{
    private sealed class Discard : IRaftMessageSender
    {
        public void Send(ulong toStore, ulong groupId, Message message)
        {
        }

        public void Flush()
        {
        }
    }

    private static Store NewStore(Engine engine) =>
        new(engine, 1, new StoreOptions { TickInterval = TimeSpan.FromMilliseconds(5), ElectionTicks = 4 }, new Discard(), NullLogger.Instance,
            (message, e) => throw new InvalidOperationException(message, e));

    private static RangeDescriptor Range(ulong confVer, params ReplicaDescriptor[] replicas) => new()
    {
        RangeId = 7,
        StartKey = ByteString.CopyFromUtf8("b"),
        EndKey = ByteString.CopyFromUtf8("d"),
        Epoch = new RangeEpoch { ConfVer = confVer, Version = 3 },
        Replicas = { replicas },
    };

    private static ReplicaDescriptor Voter(ulong id, ulong store) => new() { ReplicaId = id, StoreId = store, Role = ReplicaRole.Voter };

    private static ReplicaDescriptor Learner(ulong id, ulong store) => new() { ReplicaId = id, StoreId = store, Role = ReplicaRole.Learner };

    private static ConfChange WithContext(ConfChange cc, ulong expected, params ReplicaDescriptor[] added) =>
        cc with { Context = new ReplicaChange { ExpectedConfVer = expected, Replicas = { added } }.ToByteArray() };

    private static async Task<(RaftGroup Group, RangeReplica Replica)> OpenLeaderAsync(Store store, RangeDescriptor d)
    {
        var replica = new RangeReplica(d, 1);
        var group = await store.OpenGroupAsync(d.RangeId, 1, replica, replica.StoreOf, [1], b => b.Put(ColumnFamily.Meta, Keys.RangeDescriptor(d.RangeId), d.ToByteArray()));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!(await store.StatusAsync()).Single().IsLeader)
        {
            Assert.True(DateTime.UtcNow < deadline, "the single member did not elect itself");
            await Task.Delay(5);
        }

        return (group, replica);
    }

    [Fact]
    public void A_conf_change_carries_its_context_and_entries_written_before_contexts_still_decode()
    {
        var cc = WithContext(ConfChange.Single(ConfChangeType.AddLearnerNode, 9), 4, Learner(9, 1004));
        Assert.True(ConfChange.TryDecode(cc.Encode(), out var back));
        Assert.Equal(ConfChangeTransition.Auto, back.Transition);
        Assert.Equal(new ConfChangeSingle(ConfChangeType.AddLearnerNode, 9), back.Changes.Single());
        Assert.Equal(1004ul, ReplicaChange.Parser.ParseFrom(back.Context.Span).Replicas.Single().StoreId);

        // The old encoding (no context): exactly the changes, as logs written before still hold.
        byte[] old = [0, 1, 0, 2, 9, 0, 0, 0, 0, 0, 0, 0];
        Assert.True(ConfChange.TryDecode(old, out var oldChange));
        Assert.Equal(new ConfChangeSingle(ConfChangeType.RemoveNode, 9), oldChange.Changes.Single());
        Assert.True(oldChange.Context.IsEmpty);
        Assert.Equal(old, oldChange.Encode());

        // Leave-joint with and without context; truncated changes are still refused.
        Assert.True(ConfChange.TryDecode(ConfChange.LeaveJointChange.Encode(), out var leave) && leave.IsLeaveJoint);
        Assert.True(ConfChange.TryDecode((ConfChange.LeaveJointChange with { Context = new byte[] { 1, 2 } }).Encode(), out var leaveCtx) && leaveCtx.IsLeaveJoint);
        Assert.Equal(new byte[] { 1, 2 }, leaveCtx.Context.ToArray());
        Assert.False(ConfChange.TryDecode(old.AsSpan(0, 8), out _));
    }

    [Fact]
    public void The_next_descriptor_follows_the_applied_configuration_whatever_the_context_expected()
    {
        var d = Range(4, Voter(1, 1), Voter(2, 2), Voter(3, 3));

        // Learner added: its store comes from the context.
        var added = RangeReplica.NextDescriptor(d, new ConfState([1, 2, 3], [9], [], [], false), new ReplicaChange { ExpectedConfVer = 4, Replicas = { Learner(9, 1004) } });
        Assert.Equal(5ul, added.Epoch.ConfVer);
        Assert.Equal(3ul, added.Epoch.Version);
        Assert.Equal([Voter(1, 1), Voter(2, 2), Voter(3, 3), Learner(9, 1004)], added.Replicas);

        // Joint swap (9 in, 3 out): both halves vote. Then leave-joint without context: 3 is gone.
        var joint = RangeReplica.NextDescriptor(added, new ConfState([1, 2, 9], [], [1, 2, 3], [], true), null);
        Assert.Equal([Voter(1, 1), Voter(2, 2), Voter(3, 3), Voter(9, 1004)], joint.Replicas);
        var left = RangeReplica.NextDescriptor(joint, new ConfState([1, 2, 9], [], [], [], false), null);
        Assert.Equal(7ul, left.Epoch.ConfVer);
        Assert.Equal([Voter(1, 1), Voter(2, 2), Voter(9, 1004)], left.Replicas);

        // A context expecting another conf_ver changes nothing about the result: the applied
        // configuration decides, and conf_ver still goes up by exactly one.
        var stale = RangeReplica.NextDescriptor(d, new ConfState([1, 2], [], [], [], false), new ReplicaChange { ExpectedConfVer = 1 });
        Assert.Equal(5ul, stale.Epoch.ConfVer);
        Assert.Equal([Voter(1, 1), Voter(2, 2)], stale.Replicas);
    }

    [Fact]
    public async Task Applied_changes_update_the_descriptor_in_the_same_write_and_it_survives_a_restart()
    {
        using var dir = new TempDirectory();
        var d = Range(1, Voter(1, 1));
        using (var engine = Engine.Open(dir.Sub("db")))
        using (var store = NewStore(engine))
        {
            store.Start();
            var (_, replica) = await OpenLeaderAsync(store, d);

            var cs = (ConfState)(await store.ProposeConfChangeAsync(7, WithContext(ConfChange.Single(ConfChangeType.AddLearnerNode, 5), 1, Learner(5, 50))).WaitAsync(TimeSpan.FromSeconds(20)))!;
            Assert.Equal([5ul], cs.Learners);
            Assert.Equal(2ul, replica.Descriptor.Epoch.ConfVer);
            Assert.Equal(50ul, replica.StoreOf(5));
            Assert.Equal(ReplicaRole.Learner, RangeBounds.Replica(replica.Descriptor, 5)!.Role);
            Assert.Equal(replica.Descriptor, RangeDescriptor.Parser.ParseFrom(engine.Get(ColumnFamily.Meta, Keys.RangeDescriptor(7))));

            // An admission check on the driver thread refuses and nothing is proposed.
            var refused = await store.ProposeConfChangeAsync(7, ConfChange.Single(ConfChangeType.RemoveNode, 5), _ => "no").WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal("no", refused);
            Assert.Equal(2ul, replica.Descriptor.Epoch.ConfVer);

            // Removing the learner: the descriptor drops it, conf_ver 3.
            await store.ProposeConfChangeAsync(7, WithContext(ConfChange.Single(ConfChangeType.RemoveNode, 5), 2)).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(3ul, replica.Descriptor.Epoch.ConfVer);
            Assert.Equal([Voter(1, 1)], replica.Descriptor.Replicas);
        }

        using (var engine = Engine.Open(dir.Sub("db")))
        {
            var persisted = RangeDescriptor.Parser.ParseFrom(engine.Get(ColumnFamily.Meta, Keys.RangeDescriptor(7)));
            Assert.Equal(3ul, persisted.Epoch.ConfVer);
            Assert.Equal([Voter(1, 1)], persisted.Replicas);
        }
    }

    [Fact]
    public async Task The_membership_view_shows_pending_changes_and_match_indexes()
    {
        using var dir = new TempDirectory();
        using var engine = Engine.Open(dir.Sub("db"));
        using var store = NewStore(engine);
        store.Start();
        await OpenLeaderAsync(store, Range(1, Voter(1, 1)));
        await store.ProposeConfChangeAsync(7, WithContext(ConfChange.Single(ConfChangeType.AddLearnerNode, 5), 1, Learner(5, 50))).WaitAsync(TimeSpan.FromSeconds(20));

        var view = (MembershipView)(await store.MembershipAsync(7).WaitAsync(TimeSpan.FromSeconds(20)))!;
        Assert.Equal(1ul, view.LeaderId);
        Assert.Equal([5ul], view.ConfState.Learners);
        Assert.False(view.ChangePending);
        Assert.Equal(view.LastIndex, view.Match[1]);
        Assert.Equal(0ul, view.Match[5]); // the learner's store never answers here

        // A refusal by admit comes back as the result.
        Assert.Equal("fenced", await store.MembershipAsync(7, _ => "fenced").WaitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Destroying_a_replica_deletes_its_raft_state_descriptor_and_exactly_its_key_span()
    {
        using var dir = new TempDirectory();
        using var engine = Engine.Open(dir.Sub("db"));
        using var store = NewStore(engine);
        var destroyed = new List<ulong>();
        store.GroupDestroyed += id => destroyed.Add(id);
        store.Start();
        var (_, replica) = await OpenLeaderAsync(store, Range(1, Voter(1, 1)));
        using (var batch = engine.NewWriteBatch())
        {
            foreach (var k in new[] { "a", "az", "b", "bb", "c", "czz", "d", "e" })
            {
                batch.Put(ColumnFamily.Default, Keys.Data(System.Text.Encoding.UTF8.GetBytes(k)), "v"u8);
            }

            engine.Write(batch, sync: false);
        }

        Assert.False(await store.DestroyGroupAsync(7, _ => false));
        Assert.True(store.GroupExists(7));

        Assert.True(await store.DestroyGroupAsync(7, _ => true));
        Assert.Equal([7ul], destroyed);
        Assert.False(store.GroupExists(7));
        Assert.Null(engine.Get(ColumnFamily.Meta, Keys.RangeDescriptor(7)));
        Assert.Null(engine.Get(ColumnFamily.Raft, Store.AppliedKey(7)));
        foreach (var gone in new[] { "b", "bb", "c", "czz" })
        {
            Assert.Null(engine.Get(ColumnFamily.Default, Keys.Data(System.Text.Encoding.UTF8.GetBytes(gone))));
        }

        foreach (var kept in new[] { "a", "az", "d", "e" })
        {
            Assert.NotNull(engine.Get(ColumnFamily.Default, Keys.Data(System.Text.Encoding.UTF8.GetBytes(kept))));
        }

        Assert.Empty(await store.StatusAsync());
        await Assert.ThrowsAsync<GroupNotFoundException>(() => store.MembershipAsync(7));
        Assert.Equal(1ul, replica.Descriptor.Epoch.ConfVer);
    }

    /// <summary>Fix G: a leader with a follower of unknown position (Match 0) does not compact while its leadership is young, and does once it is not.</summary>
    [Theory]
    [InlineData(int.MaxValue, false)]
    [InlineData(0, true)] // the default delay (twice ElectionTicks): the unknown follower no longer blocks
    public async Task Fix_G_a_follower_whose_position_is_not_known_yet_holds_compaction_back_only_for_a_while(int delayTicks, bool compacts)
    {
        using var dir = new TempDirectory();
        using var engine = Engine.Open(dir.Sub("db"));
        using var store = new Store(engine, 1, new StoreOptions
        {
            TickInterval = TimeSpan.FromMilliseconds(5),
            ElectionTicks = 4,
            RaftLogCompactThreshold = 10,
            NewLeaderCompactionDelayTicks = delayTicks,
        }, new Discard(), NullLogger.Instance, (message, e) => throw new InvalidOperationException(message, e));
        store.Start();
        var (_, replica) = await OpenLeaderAsync(store, Range(1, Voter(1, 1)));

        // A learner on store 2, which never answers (the transport discards): its Match stays 0.
        await store.ProposeConfChangeAsync(7, WithContext(ConfChange.Single(ConfChangeType.AddLearnerNode, 5), 1, Learner(5, 2))).WaitAsync(TimeSpan.FromSeconds(20));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        for (var i = 0; compacts ? store.Compactions == 0 : i < 40; i++)
        {
            Assert.True(DateTime.UtcNow < deadline, "the leader never compacted past a follower of unknown position");
            var command = new RangeCommand
            {
                ProposalId = (ulong)(100 + i),
                Epoch = replica.Descriptor.Epoch,
                RawPut = new RawPutCommand { Key = ByteString.CopyFromUtf8($"c{i:D4}"), Value = ByteString.CopyFromUtf8("v") },
            };
            Assert.Null(await store.ProposeAsync(7, (ulong)(100 + i), command.ToByteArray()).WaitAsync(TimeSpan.FromSeconds(20)));
        }

        Assert.Equal(compacts, store.Compactions > 0);
        Assert.Equal(0ul, (await store.MembershipAsync(7) as MembershipView)!.Match[5]);
    }

    [Fact]
    public void A_replica_is_stale_only_when_placement_has_a_newer_membership_without_its_store()
    {
        var local = Range(4, Voter(1, 1), Voter(2, 2), Voter(3, 3));
        Assert.True(StaleReplicaCollector.IsStale(local, Range(5, Voter(1, 1), Voter(2, 2)), 3));
        Assert.False(StaleReplicaCollector.IsStale(local, Range(5, Voter(1, 1), Voter(2, 2)), 2)); // still listed
        Assert.False(StaleReplicaCollector.IsStale(local, Range(4, Voter(1, 1), Voter(2, 2)), 3)); // not newer: placement may lag
        Assert.False(StaleReplicaCollector.IsStale(Range(6, Voter(1, 1)), Range(5, Voter(2, 2)), 1)); // local is newer
        Assert.True(StaleReplicaCollector.IsStale(local, Range(7, Voter(1, 1), Voter(2, 2), Voter(9, 3)), 3)); // store 3 added again, as replica 9
    }
}
