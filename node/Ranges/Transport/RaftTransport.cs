using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;
using Grpc.Net.Client;
using Kv.Client.Transport;
using Kv.Node.Raft;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Ranges.Transport;

/// <summary>
/// Outbound Raft traffic: one long-lived client stream (RaftTransport.Send) per destination
/// store, carrying one batch per store round with the messages of every group for that store.
/// Best effort, as Raft requires nothing more: a queue that overflows drops its oldest batches,
/// a broken stream drops what it was writing and reconnects with backoff. Thread contract: Send
/// and Flush are called by the store's driver thread only; each peer has its own writer task.
/// </summary>
internal sealed partial class RaftTransport : IRaftMessageSender, IAsyncDisposable
{
    private const int QueueCapacity = 512;

    /// <summary>
    /// Bytes (estimated) per stream write. Well under the receiver's message limit, so a follower
    /// far behind (many full appends in one round) gets several writes instead of one the
    /// receiver refuses, which would break the stream for every group on that store.
    /// </summary>
    internal const int MaxBatchBytes = 4 << 20;

    private readonly ulong localStore;
    private readonly IStoreResolver resolver;
    private readonly Func<string> clusterId;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<ulong, Peer> peers = new();
    private readonly Dictionary<ulong, List<Pending>> round = []; // driver thread only
    private readonly CancellationTokenSource stopping = new();

    public RaftTransport(ulong localStore, IStoreResolver resolver, Func<string> clusterId, ILogger logger)
    {
        this.localStore = localStore;
        this.resolver = resolver;
        this.clusterId = clusterId;
        this.logger = logger;
    }

    /// <summary>Channel settings for peers (secure mode: the node certificate, the cluster CA, the cluster id header); cleartext by default.</summary>
    public KvChannelOptions PeerChannel { get; init; } = new();

    /// <summary>The descriptor of the local replica of a range group (null: none), put into each envelope's span and epoch. Set before use.</summary>
    public Func<ulong, Kv.Proto.V1.RangeDescriptor?>? RangeOf { get; init; }

    public void Send(ulong toStore, ulong groupId, Message message)
    {
        if (message.Type == MessageType.Snap)
        {
            // Snapshots travel over their own stream (SnapshotSender); the store never hands one here.
            LogSnapshotDropped(groupId, toStore);
            return;
        }

        if (!round.TryGetValue(toStore, out var batches))
        {
            batches = [];
            round.Add(toStore, batches);
        }

        var size = EstimateSize(message);
        if (batches.Count == 0 || batches[^1].Bytes + size > MaxBatchBytes)
        {
            batches.Add(new Pending(new RaftMessageBatch { FromStore = localStore, ToStore = toStore, ClusterId = clusterId() }));
        }

        var last = batches[^1];
        var envelope = new RaftEnvelope { GroupId = groupId, Message = RaftMessageCodec.ToWire(message) };
        if (groupId != 0 && RangeOf?.Invoke(groupId) is { Replicas.Count: > 0 } d)
        {
            // What the receiver needs to decide whether to create a replica it does not have.
            envelope.StartKey = d.StartKey;
            envelope.EndKey = d.EndKey;
            envelope.Epoch = d.Epoch;
        }

        last.Batch.Messages.Add(envelope);
        last.Bytes += size;
    }

    public void Flush()
    {
        foreach (var (store, batches) in round)
        {
            var peer = peers.GetOrAdd(store, s => new Peer(this, s));
            foreach (var b in batches)
            {
                peer.Enqueue(b);
            }
        }

        round.Clear();
    }

    /// <summary>An upper-bound-ish estimate of a message's encoded size, without encoding it.</summary>
    internal static int EstimateSize(Message m)
    {
        var size = 96;
        foreach (var e in m.Entries)
        {
            size += e.Data.Length + 32;
        }

        return size;
    }

    /// <summary>A batch being filled or queued, with its estimated size.</summary>
    private sealed class Pending(RaftMessageBatch batch)
    {
        public RaftMessageBatch Batch { get; } = batch;

        public int Bytes { get; set; }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        foreach (var p in peers.Values)
        {
            await p.DisposeAsync().ConfigureAwait(false);
        }

        stopping.Dispose();
    }

    /// <summary>One destination store: its queue and the task that writes it to the stream.</summary>
    private sealed class Peer : IAsyncDisposable
    {
        private readonly RaftTransport owner;
        private readonly ulong store;
        private readonly Channel<Pending> queue = Channel.CreateBounded<Pending>(
            new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true });
        private readonly Task writer;

        public Peer(RaftTransport owner, ulong store)
        {
            this.owner = owner;
            this.store = store;
            writer = Task.Run(WriteLoopAsync);
        }

        public void Enqueue(Pending batch) => queue.Writer.TryWrite(batch);

        private async Task WriteLoopAsync()
        {
            var ct = owner.stopping.Token;
            var backoff = TimeSpan.FromMilliseconds(100);
            GrpcChannel? channel = null;
            string? channelAddress = null;
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    var address = owner.resolver.AddressOf(store);
                    if (address is null)
                    {
                        // Unknown address: drop what is queued (stale by the time we learn it) and wait.
                        while (queue.Reader.TryRead(out _))
                        {
                        }

                        await Task.Delay(backoff, ct).ConfigureAwait(false);
                        continue;
                    }

                    if (channel is null || channelAddress != address)
                    {
                        channel?.Dispose();
                        channelAddress = address;
                        channel = KvChannels.ForHostPort(address, owner.PeerChannel with
                        {
                            ConnectTimeout = TimeSpan.FromSeconds(2),
                            KeepAlivePingDelay = TimeSpan.FromSeconds(5),
                            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
                        });
                    }

                    try
                    {
                        await StreamAsync(channel, ct).ConfigureAwait(false);
                        backoff = TimeSpan.FromMilliseconds(100);
                    }
#pragma warning disable CA1031 // whatever broke the stream, the writer must live on and reconnect
                    catch (Exception e) when (!ct.IsCancellationRequested)
#pragma warning restore CA1031
                    {
                        owner.LogPeerBroken(store, address, e.Message);
                        await Task.Delay(backoff, ct).ConfigureAwait(false);
                        backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
                    }
                }
            }
#pragma warning disable CA1031 // stopping: a call cut short by the shutdown ends however it ends
            catch (Exception) when (ct.IsCancellationRequested)
#pragma warning restore CA1031
            {
            }
            finally
            {
                channel?.Dispose();
            }
        }

        private async Task StreamAsync(GrpcChannel channel, CancellationToken ct)
        {
            using var call = new Kv.Proto.V1.RaftTransport.RaftTransportClient(channel).Send(new CallOptions(cancellationToken: ct));
            var reader = queue.Reader;
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                if (!reader.TryRead(out var batch))
                {
                    continue;
                }

                // Merge what else is queued into one write (fewer frames under load), within the byte budget.
                while (reader.TryPeek(out var next) && batch.Bytes + next.Bytes <= MaxBatchBytes && reader.TryRead(out var more))
                {
                    batch.Batch.Messages.Add(more.Batch.Messages);
                    batch.Bytes += more.Bytes;
                }

                if (call.ResponseAsync.IsCompleted)
                {
                    await call.ResponseAsync.ConfigureAwait(false); // surfaces why the receiver ended the stream
                    return;
                }

                await call.RequestStream.WriteAsync(batch.Batch, ct).ConfigureAwait(false);
            }
        }

        public async ValueTask DisposeAsync()
        {
            queue.Writer.TryComplete();
            try
            {
                await writer.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "raft stream to store {StoreId} at {Address} broke: {Reason}; reconnecting")]
    private partial void LogPeerBroken(ulong storeId, string address, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "group {GroupId}: snapshot for store {StoreId} dropped (snapshots travel over kv.v1.SnapshotTransport, not the raft stream)")]
    private partial void LogSnapshotDropped(ulong groupId, ulong storeId);
}
