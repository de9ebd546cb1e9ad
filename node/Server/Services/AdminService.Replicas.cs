using Kv.Client.Rpc;
using Kv.Node.Server.Rpc;
using Kv.Proto.V1;

namespace Kv.Node.Server.Services;

/// <summary>kv.v1.Admin/AddReplica, RemoveReplica and MoveReplica.</summary>
internal sealed partial class AdminService
{
    private Task<AddReplicaResponse> AddReplicaAsync(AddReplicaRequest request, ServerCallContext context) =>
        throw Refuse(StatusCode.Unimplemented, "AddReplica is not implemented yet on this node");

    private Task<RemoveReplicaResponse> RemoveReplicaAsync(RemoveReplicaRequest request, ServerCallContext context) =>
        throw Refuse(StatusCode.Unimplemented, "RemoveReplica is not implemented yet on this node");

    private Task<MoveReplicaResponse> MoveReplicaAsync(MoveReplicaRequest request, ServerCallContext context) =>
        throw Refuse(StatusCode.Unimplemented, "MoveReplica is not implemented yet on this node");
}
