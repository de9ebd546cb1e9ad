using Kv.Client.Rpc;
using Kv.Proto.V1;

namespace Kv.Client.Contracts;

/// <summary>
/// Method descriptors of <c>kv.v1.RaftTransport</c> (proto/kv/v1/raft.proto). Node-to-node only;
/// it lives here because client/ owns every method descriptor (nodes dial each other with the
/// same channel as clients). Checked against the proto by ContractTests.
/// </summary>
public static class RaftTransportContract
{
    public const string ServiceName = "kv.v1.RaftTransport";

    public static readonly Method<RaftMessageBatch, RaftSendSummary> Send = new(
        MethodType.ClientStreaming, ServiceName, "Send", Marshallers.Create(RaftMessageBatch.Parser), Marshallers.Create(RaftSendSummary.Parser));

    public static IReadOnlyList<IMethod> All => [Send];
}
