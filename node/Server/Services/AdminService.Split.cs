using Kv.Client.Rpc;
using Kv.Node.Server.Rpc;
using Kv.Proto.V1;

namespace Kv.Node.Server.Services;

/// <summary>kv.v1.Admin/SplitRange.</summary>
internal sealed partial class AdminService
{
    private Task<SplitRangeResponse> SplitRangeAsync(SplitRangeRequest request, ServerCallContext context) =>
        throw Refuse(StatusCode.Unimplemented, "SplitRange is not implemented yet on this node");
}
