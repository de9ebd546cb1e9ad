using System.Collections.Concurrent;
using System.Threading.Channels;
using Kv.Client.Contracts;
using Kv.Client.Rpc;
using Kv.Client.Rpc.Http;
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
    private const int MaxEnvelopesPerWrite = 4096;

    private readonly ulong localStore;
    private readonly IStoreResolver resolver;
    private readonly Func<string> clusterId;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<ulong, Peer> peers = new();
    private readonly Dictionary<ulong, RaftMessageBatch> round = []; // driver thread only
    private readonly CancellationTokenSource stopping = new();

    public RaftTransport(ulong localStore, IStoreResolver resolver, Func<string> clusterId, ILogger logger)
    {
        this.localStore = localStore;
        this.resolver = resolver;
        this.clusterId = clusterId;
        this.logger = logger;
    }

    public void Send(ulong toStore, ulong groupId, Message message)
    {
        if (message.Type == MessageType.Snap)
        {
            // Snapshots travel over their own stream (range lifecycle); nothing compacts a log yet.
            LogSnapshotDropped(groupId, toStore);
            return;
        }

        if (!round.TryGetValue(toStore, out var batch))
        {
            batch = new RaftMessageBatch { FromStore = localStore, ToStore = toStore, ClusterId = clusterId() };
            round.Add(toStore, batch);
        }

        batch.Messages.Add(new RaftEnvelope { GroupId = groupId, Message = RaftMessageCodec.ToWire(message) });
    }

    public void Flush()
    {
        foreach (var (store, batch) in round)
        {
            peers.GetOrAdd(store, s => new Peer(this, s)).Enqueue(batch);
        }

        round.Clear();
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
        private readonly Channel<RaftMessageBatch> queue = Channel.CreateBounded<RaftMessageBatch>(
            new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true });
        private readonly Task writer;

        public Peer(RaftTransport owner, ulong store)
        {
            this.owner = owner;
            this.store = store;
            writer = Task.Run(WriteLoopAsync);
        }

        public void Enqueue(RaftMessageBatch batch) => queue.Writer.TryWrite(batch);

        private async Task WriteLoopAsync()
        {
            var ct = owner.stopping.Token;
            var backoff = TimeSpan.FromMilliseconds(100);
            RpcChannel? channel = null;
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

                    if (channel is null || channel.Address.Authority != address)
                    {
                        channel?.Dispose();
                        channel = new RpcChannel(new Uri($"http://{address}"), new RpcChannelOptions
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
                    catch (Exception e) when (e is RpcException or IOException or HttpRequestException or InvalidOperationException && !ct.IsCancellationRequested)
                    {
                        owner.LogPeerBroken(store, address, e.Message);
                        await Task.Delay(backoff, ct).ConfigureAwait(false);
                        backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            finally
            {
                channel?.Dispose();
            }
        }

        private async Task StreamAsync(RpcChannel channel, CancellationToken ct)
        {
            using var call = channel.ClientStreaming(RaftTransportContract.Send, new CallOptions(CancellationToken: ct));
            var reader = queue.Reader;
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                if (!reader.TryRead(out var batch))
                {
                    continue;
                }

                // Merge whatever else is queued into one write: fewer frames under load.
                while (batch.Messages.Count < MaxEnvelopesPerWrite && reader.TryRead(out var more))
                {
                    batch.Messages.Add(more.Messages);
                }

                if (call.ResponseAsync.IsCompleted)
                {
                    await call.ResponseAsync.ConfigureAwait(false); // surfaces why the receiver ended the stream
                    return;
                }

                await call.RequestStream.WriteAsync(batch, ct).ConfigureAwait(false);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "group {GroupId}: snapshot for store {StoreId} dropped (snapshot transfer is not supported yet)")]
    private partial void LogSnapshotDropped(ulong groupId, ulong storeId);
}
