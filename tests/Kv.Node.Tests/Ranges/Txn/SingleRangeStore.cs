using Google.Protobuf;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Transport;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Node.Tests.Ranges.Txn;

/// <summary>
/// A real store (RocksDB in a temp folder, the multi-raft driver) holding one single-replica range
/// over the whole key space, led by this store once <see cref="StartAsync"/> returns.
/// </summary>
internal sealed class SingleRangeStore : IDisposable, IStoreResolver
{
    public const ulong RangeId = 1;
    public const ulong ReplicaId = 11;

    private readonly TempDirectory dir = new();
    private readonly LocalRanges ranges = new();

    public SingleRangeStore()
    {
        Engine = Engine.Open(dir.Sub("db"));
        Store = new Store(Engine, 1, new StoreOptions { TickInterval = TimeSpan.FromMilliseconds(5), ElectionTicks = 4 }, new NoPeers(), NullLogger.Instance,
            (message, e) => throw new InvalidOperationException(message, e));
    }

    public Engine Engine { get; }

    public Store Store { get; }

    public RangeReplica Replica { get; private set; } = null!;

    /// <summary>The epoch the range starts at.</summary>
    public static RangeEpoch Epoch => new() { ConfVer = 1, Version = 1 };

    public RangeReplica? ReplicaOf(ulong rangeId) => ranges.Get(rangeId);

    public string? AddressOf(ulong storeId) => null;

    public async Task StartAsync()
    {
        Store.Start();
        var d = new RangeDescriptor
        {
            RangeId = RangeId,
            Epoch = Epoch,
            Replicas = { new ReplicaDescriptor { ReplicaId = ReplicaId, StoreId = 1, Role = ReplicaRole.Voter } },
        };
        Replica = new RangeReplica(d, ReplicaId, Store, ranges);
        await Store.OpenGroupAsync(RangeId, ReplicaId, Replica, Replica.StoreOf, [ReplicaId],
            batch => batch.Put(ColumnFamily.Meta, Keys.RangeDescriptor(RangeId), d.ToByteArray()));
        ranges.Add(Replica);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!(await Store.StatusAsync()).Any(g => g.GroupId == RangeId && g.IsLeader))
        {
            Assert.True(DateTime.UtcNow < deadline, "the single-replica range did not elect itself within 20 s");
            await Task.Delay(5);
        }

        // A read point waits until the leader's first entry (of its term) is applied: from here on
        // the applied index moves only with the tests' proposals.
        Assert.Null(await Store.ReadIndexAsync(RangeId).WaitAsync(TimeSpan.FromSeconds(20)));
    }

    public void Dispose()
    {
        Store.Dispose();
        Engine.Dispose();
        dir.Dispose();
    }

    private sealed class NoPeers : IRaftMessageSender
    {
        public void Send(ulong toStore, ulong groupId, Message message) => throw new InvalidOperationException("a single-replica range sends nothing");

        public void Flush()
        {
        }
    }
}
