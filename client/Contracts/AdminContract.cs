using Kv.Client.Rpc;
using Kv.Proto.V1;

namespace Kv.Client.Contracts;

/// <summary>Method descriptors of <c>kv.v1.Admin</c> (proto/kv/v1/admin.proto); checked against the proto by ContractTests.</summary>
public static class AdminContract
{
    public const string ServiceName = "kv.v1.Admin";

    public static readonly Method<TransferLeaderRequest, TransferLeaderResponse> TransferLeader = new(
        MethodType.Unary, ServiceName, "TransferLeader", Marshallers.Create(TransferLeaderRequest.Parser), Marshallers.Create(TransferLeaderResponse.Parser));

    public static IReadOnlyList<IMethod> All => [TransferLeader];
}
