using Google.Protobuf;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Transport;
using Kv.Node.Server.Hosting;
using Kv.Node.Server.Services;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Node.Tests.Ranges.Transport;

/// <summary>
/// The range span and epoch travel in the Raft envelope from the sending store's transport to the
/// receiving store over real RPC, and decide there whether an unknown group gets a replica.
/// </summary>
public sealed class EnvelopeRangeTests
{
    private static RangeDescriptor Descriptor(ulong id, string start, string end) => new()
    {
        RangeId = id,
        StartKey = ByteString.CopyFromUtf8(start),
        EndKey = ByteString.CopyFromUtf8(end),
        Epoch = new RangeEpoch { ConfVer = 2, Version = 3 },
        Replicas = { new ReplicaDescriptor { ReplicaId = 1, StoreId = 1 }, new ReplicaDescriptor { ReplicaId = 2, StoreId = 2 } },
    };

    [Fact]
    public async Task An_unknown_range_gets_a_replica_only_when_the_envelopes_span_overlaps_no_local_range()
    {
        using var dir = new TempDirectory();
        using var engine = Engine.Open(dir.Sub("db"));
        var ranges = new LocalRanges();
        ranges.Add(new RangeReplica(Descriptor(1, "a", "k"), 2));
        using var store = new Store(engine, 2, new StoreOptions { TickInterval = TimeSpan.FromMilliseconds(10) }, new Nowhere(), NullLogger.Instance,
            (message, e) => throw new InvalidOperationException(message, e)) { Ranges = ranges };
        store.Start();
        var service = new RaftTransportService(store, () => "", NullLogger.Instance);
        await using var server = await GrpcServer.StartAsync(new GrpcServerOptions(), services => services.AddSingleton(service), endpoints => endpoints.MapGrpcService<RaftTransportService>());

        var descriptors = new Dictionary<ulong, RangeDescriptor> { [9] = Descriptor(9, "c", "f"), [10] = Descriptor(10, "k", "") };
        await using var transport = new Kv.Node.Ranges.Transport.RaftTransport(1, new At(server.Address.Authority), () => "", NullLogger.Instance)
        {
            RangeOf = id => descriptors.GetValueOrDefault(id),
        };
        foreach (var group in new ulong[] { 9, 11, 10 }) // 9 overlaps range 1; 11 has no descriptor (no span); 10 is free
        {
            transport.Send(2, group, new Message { Type = MessageType.Heartbeat, From = 1, To = 2, Term = 5 });
        }

        transport.Flush();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await store.HasGroupAsync(10))
        {
            Assert.True(DateTime.UtcNow < deadline, "range 10 got no replica from a heartbeat whose span overlaps nothing here");
            await Task.Delay(10);
        }

        // The batch's messages were stepped in order, so 9 and 11 were decided before 10.
        Assert.True(await store.IsUninitializedAsync(10));
        Assert.False(await store.HasGroupAsync(9));
        Assert.False(await store.HasGroupAsync(11));
    }

    private sealed class Nowhere : IRaftMessageSender
    {
        public void Send(ulong toStore, ulong groupId, Message message)
        {
        }

        public void Flush()
        {
        }
    }

    private sealed class At(string address) : IStoreResolver
    {
        public string? AddressOf(ulong storeId) => address;
    }
}
