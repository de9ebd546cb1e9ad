using Kv.Client.Rpc;
using Kv.Proto.V1;

namespace Kv.Client.Contracts;

/// <summary>Method descriptors of <c>kv.v1.Admin</c> (proto/kv/v1/admin.proto); checked against the proto by ContractTests.</summary>
public static class AdminContract
{
    public const string ServiceName = "kv.v1.Admin";

    public static readonly Method<TransferLeaderRequest, TransferLeaderResponse> TransferLeader = new(
        MethodType.Unary, ServiceName, "TransferLeader", Marshallers.Create(TransferLeaderRequest.Parser), Marshallers.Create(TransferLeaderResponse.Parser));

    public static readonly Method<SplitRangeRequest, SplitRangeResponse> SplitRange = new(
        MethodType.Unary, ServiceName, "SplitRange", Marshallers.Create(SplitRangeRequest.Parser), Marshallers.Create(SplitRangeResponse.Parser));

    public static readonly Method<AddReplicaRequest, AddReplicaResponse> AddReplica = new(
        MethodType.Unary, ServiceName, "AddReplica", Marshallers.Create(AddReplicaRequest.Parser), Marshallers.Create(AddReplicaResponse.Parser));

    public static readonly Method<RemoveReplicaRequest, RemoveReplicaResponse> RemoveReplica = new(
        MethodType.Unary, ServiceName, "RemoveReplica", Marshallers.Create(RemoveReplicaRequest.Parser), Marshallers.Create(RemoveReplicaResponse.Parser));

    public static readonly Method<MoveReplicaRequest, MoveReplicaResponse> MoveReplica = new(
        MethodType.Unary, ServiceName, "MoveReplica", Marshallers.Create(MoveReplicaRequest.Parser), Marshallers.Create(MoveReplicaResponse.Parser));

    public static IReadOnlyList<IMethod> All => [TransferLeader, SplitRange, AddReplica, RemoveReplica, MoveReplica];
}
