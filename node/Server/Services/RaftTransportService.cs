using Grpc.Core;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Transport;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Server.Services;

/// <summary>
/// Inbound side of <c>kv.v1.RaftTransport</c>: steps each message of each batch into its group on
/// the local store. A batch addressed to another store or from another cluster ends the stream
/// with FAILED_PRECONDITION (a misrouted or misconfigured peer must hear about it); a single
/// undecodable message is logged and skipped, as Raft tolerates lost messages.
/// </summary>
internal sealed partial class RaftTransportService(Store store, Func<string> clusterId, ILogger logger) : Kv.Proto.V1.RaftTransport.RaftTransportBase
{
    public override async Task<RaftSendSummary> Send(IAsyncStreamReader<RaftMessageBatch> requests, ServerCallContext context)
    {
        ulong batches = 0;
        while (await requests.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            var batch = requests.Current;
            if (batch.ToStore != store.StoreId)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"this is store {store.StoreId}, not store {batch.ToStore}: the sender (store {batch.FromStore}) has a stale address for store {batch.ToStore}"));
            }

            var ours = clusterId();
            if (ours.Length > 0 && batch.ClusterId.Length > 0 && ours != batch.ClusterId)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"store {store.StoreId} belongs to cluster {ours}, but store {batch.FromStore} sent raft messages for cluster {batch.ClusterId}; check the --join addresses of store {batch.FromStore}"));
            }

            foreach (var envelope in batch.Messages)
            {
                if (envelope.Message is null)
                {
                    continue;
                }

                var message = RaftMessageCodec.FromWire(envelope.Message, out var error);
                if (message is null)
                {
                    LogBadMessage(batch.FromStore, envelope.GroupId, error!);
                    continue;
                }

                if (NeverSentBetweenStores(message.Type))
                {
                    LogBadMessage(batch.FromStore, envelope.GroupId, $"{message.Type} messages are never sent between stores (proposals and reads are made on the leader; snapshots travel over kv.v1.SnapshotTransport)");
                    continue;
                }

                var range = envelope.Epoch is { } epoch ? new EnvelopeRange(envelope.StartKey, envelope.EndKey, epoch) : null;
                store.StepMessage(batch.FromStore, envelope.GroupId, message, range);
            }

            batches++;
        }

        return new RaftSendSummary { Batches = batches };
    }

    /// <summary>
    /// Our stores propose, read and transfer leadership only on the replica itself (forwarding is
    /// disabled), so these types can only come from a confused or hostile peer. Accepting them
    /// would let it append commands or membership changes, or skew a leader's reads.
    /// </summary>
    private static bool NeverSentBetweenStores(Raft.MessageType type) =>
        type is Raft.MessageType.Prop or Raft.MessageType.ReadIndex or Raft.MessageType.ReadIndexResp
            or Raft.MessageType.TransferLeader or Raft.MessageType.Snap;

    [LoggerMessage(Level = LogLevel.Warning, Message = "raft message from store {From} for group {GroupId} refused: {Reason}")]
    private partial void LogBadMessage(ulong from, ulong groupId, string reason);
}
