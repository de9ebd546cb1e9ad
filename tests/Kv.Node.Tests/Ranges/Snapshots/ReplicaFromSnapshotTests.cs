using System.Collections.Concurrent;
using Google.Protobuf;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Snapshots;
using Kv.Node.Ranges.Transport;
using Kv.Node.Server.Hosting;
using Kv.Node.Server.Services;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Node.Tests.Ranges.Snapshots;

/// <summary>
/// A new learner on a store that has never heard of the range, over the real transports (Raft
/// stream and snapshot stream on 127.0.0.1) and RocksDB: the leader's append creates an
/// uninitialized replica there, which rejects it; the leader's log does not reach back to it, so
/// it sends a snapshot; the replica installs it, registers, and then follows the log.
/// </summary>
public sealed class ReplicaFromSnapshotTests
{
    /// <summary>Range 10 before the change: member 1 on store 1, its only voter.</summary>
    private static readonly RangeDescriptor Range = new()
    {
        RangeId = 10,
        Epoch = new RangeEpoch { ConfVer = 1, Version = 1 },
        Replicas = { new ReplicaDescriptor { ReplicaId = 1, StoreId = 1, Role = ReplicaRole.Voter } },
    };

    /// <summary>The learner the change adds: member 2 on store 2.</summary>
    private static readonly ReplicaDescriptor Learner = new() { ReplicaId = 2, StoreId = 2, Role = ReplicaRole.Learner };

    [Fact]
    public async Task A_learner_on_a_store_without_the_range_is_created_by_the_leaders_append_and_filled_by_a_snapshot()
    {
        using var dir = new TempDirectory();
        var addresses = new ConcurrentDictionary<ulong, string>();
        await using var leader = await TestStore.StartAsync(1, dir.Sub("s1"), addresses);
        await using var learner = await TestStore.StartAsync(2, dir.Sub("s2"), addresses);

        // Range 10 exists on store 1 only, with member 1 as its single voter.
        var replica = new RangeReplica(Range, 1);
        await leader.Store.OpenGroupAsync(10, 1, replica, replica.StoreOf, [1], b => b.Put(ColumnFamily.Meta, Keys.RangeDescriptor(10), Range.ToByteArray()));
        leader.Ranges.Add(replica);
        await WaitAsync(async () => (await leader.Store.StatusAsync()).Any(g => g.GroupId == 10 && g.IsLeader), "range 10 elected no leader");
        for (var i = 0; i < 60; i++)
        {
            await PutAsync(leader.Store, replica, i);
        }

        Assert.True(leader.Store.Compactions > 0);
        Assert.False(await learner.Store.HasGroupAsync(10));

        // The change names the learner's store in its context; at apply the descriptor gains it (conf_ver + 1).
        await leader.Store.ProposeConfChangeAsync(10, ConfChange.Single(ConfChangeType.AddLearnerNode, 2) with
        {
            Context = new ReplicaChange { ExpectedConfVer = 1, Replicas = { Learner } }.ToByteArray(),
        });
        await WaitAsync(() => Task.FromResult(learner.Store.SnapshotsInstalled == 1 && learner.Ranges.Contains(10)), "the learner was not created from a snapshot");
        var withLearner = Range.Clone();
        withLearner.Epoch = new RangeEpoch { ConfVer = 2, Version = 1 };
        withLearner.Replicas.Add(Learner);
        Assert.Equal(withLearner, replica.Descriptor);
        Assert.Equal(withLearner, learner.Ranges.Get(10)!.Descriptor);
        // The sender counts a transfer once the receiver's answer reaches it, which can be after the install.
        await WaitAsync(() => Task.FromResult(leader.Snapshots.Sent >= 1), "the leader never counted the snapshot as sent");

        // After the snapshot it follows the log.
        for (var i = 60; i < 70; i++)
        {
            await PutAsync(leader.Store, replica, i);
        }

        await WaitAsync(() => Task.FromResult(learner.Engine.Get(ColumnFamily.Default, Keys.Data(Key(69))) is not null), "the learner did not follow the log after its snapshot");
        for (var i = 0; i < 70; i++)
        {
            Assert.Equal($"v{i}", System.Text.Encoding.UTF8.GetString(learner.Engine.Get(ColumnFamily.Default, Keys.Data(Key(i)))!));
        }
    }

    private static byte[] Key(int i) => System.Text.Encoding.UTF8.GetBytes($"k{i:D3}");

    private static async Task PutAsync(Store store, RangeReplica replica, int i)
    {
        var id = (ulong)(1000 + i);
        var command = new RangeCommand { ProposalId = id, Epoch = replica.Descriptor.Epoch, RawPut = new RawPutCommand { Key = ByteString.CopyFrom(Key(i)), Value = ByteString.CopyFromUtf8($"v{i}") } };
        var result = await store.ProposeAsync(10, id, command.ToByteArray()).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Null(result);
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(10);
        }
    }

    /// <summary>One store with the node's wiring: Raft transport both ways, snapshot sender and service, one limiter.</summary>
    private sealed class TestStore : IAsyncDisposable
    {
        private GrpcServer server = null!;
        private Kv.Node.Ranges.Transport.RaftTransport transport = null!;

        public Engine Engine { get; private set; } = null!;

        public Store Store { get; private set; } = null!;

        public SnapshotSender Snapshots { get; private set; } = null!;

        public LocalRanges Ranges { get; } = new();

        public static async Task<TestStore> StartAsync(ulong id, string dir, ConcurrentDictionary<ulong, string> addresses)
        {
            var s = new TestStore { Engine = Engine.Open(Path.Combine(dir, "db")) };
            var resolver = new Resolver(addresses);
            var limiter = new SnapshotLimiter(2);
            s.transport = new Kv.Node.Ranges.Transport.RaftTransport(id, resolver, () => "", NullLogger.Instance) { RangeOf = r => s.Ranges.Get(r)?.Descriptor };
            s.Snapshots = new SnapshotSender(id, s.Engine, Path.Combine(dir, "send"), resolver, () => "", limiter, NullLogger.Instance);
            s.Store = new Store(s.Engine, id, new StoreOptions { TickInterval = TimeSpan.FromMilliseconds(10), RaftLogCompactThreshold = 20 }, s.transport, NullLogger.Instance,
                (message, e) => throw new InvalidOperationException(message, e)) { Ranges = s.Ranges, SnapshotSender = s.Snapshots };
            var service = new SnapshotService(s.Store, Path.Combine(dir, "recv"), limiter, () => "", NullLogger.Instance);
            s.server = await GrpcServer.StartAsync(
                new GrpcServerOptions(),
                services =>
                {
                    services.AddSingleton(new RaftTransportService(s.Store, () => "", NullLogger.Instance));
                    services.AddSingleton(service);
                },
                endpoints =>
                {
                    endpoints.MapGrpcService<RaftTransportService>();
                    endpoints.MapGrpcService<SnapshotService>();
                });
            addresses[id] = s.server.Address.Authority;
            s.Store.Start();
            return s;
        }

        public async ValueTask DisposeAsync()
        {
            await server.DisposeAsync();
            await Snapshots.DisposeAsync();
            Store.Dispose();
            await transport.DisposeAsync();
            Engine.Dispose();
        }
    }

    private sealed class Resolver(ConcurrentDictionary<ulong, string> addresses) : IStoreResolver
    {
        public string? AddressOf(ulong storeId) => addresses.GetValueOrDefault(storeId);
    }
}
