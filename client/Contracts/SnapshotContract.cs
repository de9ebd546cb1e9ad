using Kv.Client.Rpc;
using Kv.Proto.V1;

namespace Kv.Client.Contracts;

/// <summary>
/// Method descriptors of <c>kv.v1.SnapshotTransport</c> (proto/kv/v1/snapshot.proto): replica
/// snapshots store to store. Node-to-node only; it lives here because client/ owns every method
/// descriptor. Checked against the proto by ContractTests.
/// </summary>
public static class SnapshotContract
{
    public const string ServiceName = "kv.v1.SnapshotTransport";

    public static readonly Method<SnapshotBeginRequest, SnapshotBeginResponse> Begin = new(
        MethodType.Unary, ServiceName, "Begin", Marshallers.Create(SnapshotBeginRequest.Parser), Marshallers.Create(SnapshotBeginResponse.Parser));

    public static readonly Method<SnapshotChunkMessage, SnapshotSendResult> Send = new(
        MethodType.ClientStreaming, ServiceName, "Send", Marshallers.Create(SnapshotChunkMessage.Parser), Marshallers.Create(SnapshotSendResult.Parser));

    public static IReadOnlyList<IMethod> All => [Begin, Send];
}
