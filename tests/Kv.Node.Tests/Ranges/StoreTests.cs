using System.Text;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Ranges.RaftLog;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Node.Tests.Ranges;

/// <summary>The multi-raft store's own promises: group commit across groups, restart from the applied index.</summary>
public sealed class StoreTests
{
    /// <summary>Puts each entry's payload under its own key; records how often each entry was applied.</summary>
    private sealed class EchoMachine : IGroupStateMachine
    {
        public List<string> Applied { get; } = [];

        public (ulong ProposalId, object? Result) Apply(in Entry entry, WriteBatch batch)
        {
            var text = Encoding.UTF8.GetString(entry.Data.Span);
            batch.Put(ColumnFamily.Default, Encoding.UTF8.GetBytes(text), "v"u8);
            lock (Applied)
            {
                Applied.Add(text);
            }

            return (ulong.Parse(text.Split('-')[1], System.Globalization.CultureInfo.InvariantCulture), text);
        }
    }

    private sealed class NoPeers : IRaftMessageSender
    {
        public void Send(ulong toStore, ulong groupId, Message message) => throw new InvalidOperationException("single-member groups send nothing");

        public void Flush()
        {
        }
    }

    private static Store NewStore(Engine engine) =>
        new(engine, 1, new StoreOptions { TickInterval = TimeSpan.FromMilliseconds(5), ElectionTicks = 4 }, new NoPeers(), NullLogger.Instance,
            (message, e) => throw new InvalidOperationException(message, e));

    private static async Task WaitForLeadersAsync(Store store, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await store.StatusAsync()).Count(g => g.IsLeader) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, "single-member groups did not elect themselves");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task Proposals_to_several_groups_in_one_round_share_one_write_per_step()
    {
        using var dir = new TempDirectory();
        using var engine = Engine.Open(dir.Sub("db"));
        using var store = NewStore(engine);
        store.Start();
        var machines = new EchoMachine[3];
        for (var g = 0; g < 3; g++)
        {
            machines[g] = new EchoMachine();
            await store.OpenGroupAsync((ulong)(g + 1), 1, machines[g], id => id, [1]);
        }

        await WaitForLeadersAsync(store, 3);

        // Hold the driver so that all three proposals arrive in the same round.
        using var gate = new ManualResetEventSlim(false);
        store.Post(() => gate.Wait());
        var before = store.Writes;
        var proposals = Enumerable.Range(1, 3).Select(g => store.ProposeAsync((ulong)g, (ulong)(100 + g), Encoding.UTF8.GetBytes($"g{g}-{100 + g}"))).ToArray();
        gate.Set();
        var results = await Task.WhenAll(proposals).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(["g1-101", "g2-102", "g3-103"], results.Cast<string>());
        // One write persists all three groups' entries, one applies all three: never one per group.
        Assert.InRange(store.Writes - before, 1, 2);
        Assert.NotNull(engine.Get(ColumnFamily.Default, "g2-102"u8));
    }

    [Fact]
    public async Task A_reopened_store_resumes_after_the_persisted_applied_index()
    {
        using var dir = new TempDirectory();
        var first = new EchoMachine();
        using (var engine = Engine.Open(dir.Sub("db")))
        using (var store = NewStore(engine))
        {
            store.Start();
            await store.OpenGroupAsync(7, 1, first, id => id, [1]);
            await WaitForLeadersAsync(store, 1);
            for (var i = 1; i <= 5; i++)
            {
                await store.ProposeAsync(7, (ulong)i, Encoding.UTF8.GetBytes($"e-{i}")).WaitAsync(TimeSpan.FromSeconds(20));
            }
        }

        var second = new EchoMachine();
        using (var engine = Engine.Open(dir.Sub("db")))
        using (var store = NewStore(engine))
        {
            store.Start();
            await store.OpenGroupAsync(7, 1, second, id => id, initialVoters: null);
            await WaitForLeadersAsync(store, 1);
            await store.ProposeAsync(7, 6, "e-6"u8.ToArray()).WaitAsync(TimeSpan.FromSeconds(20));
        }

        Assert.Equal(["e-1", "e-2", "e-3", "e-4", "e-5"], first.Applied);
        // Nothing already applied is applied again after the restart.
        Assert.Equal(["e-6"], second.Applied);
    }

    [Fact]
    public async Task Opening_an_unknown_group_without_a_configuration_is_refused()
    {
        using var dir = new TempDirectory();
        using var engine = Engine.Open(dir.Sub("db"));
        using var store = NewStore(engine);
        store.Start();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => store.OpenGroupAsync(9, 1, new EchoMachine(), id => id));
        Assert.Contains("no initial configuration", e.Message, StringComparison.Ordinal);
        Assert.False(store.GroupExists(9));
    }

    [Fact]
    public async Task Requests_for_a_group_the_store_does_not_hold_fail_with_GroupNotFound()
    {
        using var dir = new TempDirectory();
        using var engine = Engine.Open(dir.Sub("db"));
        using var store = NewStore(engine);
        store.Start();
        await Assert.ThrowsAsync<GroupNotFoundException>(() => store.ProposeAsync(42, 1, "x-1"u8.ToArray()));
        await Assert.ThrowsAsync<GroupNotFoundException>(() => store.ReadIndexAsync(42));
    }
}

/// <summary>Regression tests from review: the store only steps messages a peer store may send for the members it hosts.</summary>
public sealed class StoreMessageAdmissionTests
{
    private sealed class Recorder : IRaftMessageSender
    {
        private readonly List<Message> _sent = [];

        /// <summary>The messages sent so far: a copy.</summary>
        public List<Message> Sent
        {
            get
            {
                lock (_sent)
                {
                    return [.. _sent];
                }
            }
        }

        public void Send(ulong toStore, ulong groupId, Message message)
        {
            lock (_sent)
            {
                _sent.Add(message);
            }
        }

        public void Flush()
        {
        }
    }

    private sealed class Nothing : IGroupStateMachine
    {
        public (ulong ProposalId, object? Result) Apply(in Entry entry, WriteBatch batch) => (0, null);
    }

    /// <summary>
    /// A bootstrap member of a range whose replica was uninitialized in an earlier life (a
    /// leader's message created it before its own bootstrap creation; it was killed before its
    /// snapshot) has a hard state and no log. Its replica must still be created from the bootstrap
    /// (before, nothing opened it and it dropped its range's vote requests: the range could lose
    /// its quorum), and the vote it cast must stand.
    /// </summary>
    [Fact]
    public async Task A_group_whose_earlier_uninitialized_replica_left_only_a_hard_state_is_created_keeping_its_term_and_vote()
    {
        using var dir = new TempDirectory();
        using var engine = Engine.Open(dir.Sub("db"));
        using (var batch = engine.NewWriteBatch())
        {
            new EngineRaftStorage(engine, 5).StageHardState(batch, new HardState(9, 3, 0)); // voted for member 3 in term 9
            engine.Write(batch, sync: true);
        }

        var sent = new Recorder();
        using var store = new Store(engine, 1, new StoreOptions { TickInterval = TimeSpan.FromHours(1) }, sent, NullLogger.Instance,
            (message, e) => throw new InvalidOperationException(message, e));
        store.Start();
        Assert.True(store.GroupExists(5));
        Assert.True(await store.CanCreateGroupAsync(5));

        await store.OpenGroupAsync(5, 1, new Nothing(), id => id, [1, 2, 3]);
        Assert.False(await store.CanCreateGroupAsync(5));
        var voters = await store.InvokeAsync(() => store.ConfStateOf(5)!.Voters.ToArray());
        Assert.Equal(new ulong[] { 1, 2, 3 }, voters);
        Assert.Equal(9UL, (await store.StatusAsync()).Single().Term);

        // Member 2 asks for a vote in term 9 with a log as long as anyone's: refused, member 3 has it.
        store.StepMessage(2, 5, new Message { Type = MessageType.Vote, From = 2, To = 1, Term = 9, LogTerm = 5, Index = 5 });
        store.StepMessage(3, 5, new Message { Type = MessageType.Vote, From = 3, To = 1, Term = 9, LogTerm = 5, Index = 5 });
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (sent.Sent.Count(m => m.Type == MessageType.VoteResp) < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, $"no answers to both vote requests: {string.Join("; ", sent.Sent)}");
            await Task.Delay(5);
        }

        Assert.True(sent.Sent.Single(m => m.Type == MessageType.VoteResp && m.To == 2).Reject);
        Assert.False(sent.Sent.Single(m => m.Type == MessageType.VoteResp && m.To == 3).Reject);
    }

    [Fact]
    public async Task A_message_from_a_store_that_does_not_host_its_sender_or_for_another_replica_is_dropped()
    {
        using var dir = new TempDirectory();
        using var engine = Engine.Open(dir.Sub("db"));
        using var store = new Store(engine, 1, new StoreOptions { TickInterval = TimeSpan.FromHours(1) }, new Recorder(), NullLogger.Instance,
            (message, e) => throw new InvalidOperationException(message, e));
        store.Start();
        // Members 1, 2, 3 live on stores 1, 2, 3.
        await store.OpenGroupAsync(5, 1, new Nothing(), id => id, [1, 2, 3]);
        var term = (await store.StatusAsync()).Single().Term;

        // Store 3 speaking for member 2, and a message for member 9: both dropped.
        store.StepMessage(3, 5, new Message { Type = MessageType.Heartbeat, From = 2, To = 1, Term = term + 5 });
        store.StepMessage(2, 5, new Message { Type = MessageType.Heartbeat, From = 2, To = 9, Term = term + 5 });
        Assert.Equal(term, (await store.StatusAsync()).Single().Term);

        // The same heartbeat from the right store is stepped.
        store.StepMessage(2, 5, new Message { Type = MessageType.Heartbeat, From = 2, To = 1, Term = term + 5 });
        Assert.Equal(term + 5, (await store.StatusAsync()).Single().Term);
    }
}

/// <summary>Membership changes through the store: applied, answered, and still in force after a restart.</summary>
public sealed class StoreConfChangeTests
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

    private sealed class Nothing : IGroupStateMachine
    {
        public (ulong ProposalId, object? Result) Apply(in Entry entry, WriteBatch batch) => (0, null);
    }

    private static Store NewStore(Engine engine) =>
        new(engine, 1, new StoreOptions { TickInterval = TimeSpan.FromMilliseconds(5), ElectionTicks = 4 }, new Discard(), NullLogger.Instance,
            (message, e) => throw new InvalidOperationException(message, e));

    [Fact]
    public async Task An_applied_membership_change_is_answered_and_survives_a_restart()
    {
        using var dir = new TempDirectory();
        using (var engine = Engine.Open(dir.Sub("db")))
        using (var store = NewStore(engine))
        {
            store.Start();
            await store.OpenGroupAsync(3, 1, new Nothing(), id => id, [1]);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (!(await store.StatusAsync()).Single().IsLeader)
            {
                Assert.True(DateTime.UtcNow < deadline, "the single member did not elect itself");
                await Task.Delay(5);
            }

            var result = (ConfState)(await store.ProposeConfChangeAsync(3, ConfChange.Single(ConfChangeType.AddLearnerNode, 2)).WaitAsync(TimeSpan.FromSeconds(20)))!;
            Assert.Equal([2ul], result.Learners);

            // A second change while none is pending works too; the core refuses overlapping ones.
            var removed = (ConfState)(await store.ProposeConfChangeAsync(3, ConfChange.Single(ConfChangeType.RemoveNode, 2)).WaitAsync(TimeSpan.FromSeconds(20)))!;
            Assert.Empty(removed.Learners);
            await store.ProposeConfChangeAsync(3, ConfChange.Single(ConfChangeType.AddLearnerNode, 4)).WaitAsync(TimeSpan.FromSeconds(20));
        }

        using (var engine = Engine.Open(dir.Sub("db")))
        using (var store = NewStore(engine))
        {
            store.Start();
            var group = await store.OpenGroupAsync(3, 1, new Nothing(), id => id);
            var config = await store.InvokeAsync(() => group.Node.ConfState);
            Assert.Equal([1ul], config.Voters);
            Assert.Equal([4ul], config.Learners);
        }
    }
}
