using Google.Protobuf;
using Kv.Client.Rpc;
using Kv.Proto.V1;

namespace Kv.Client.Contracts;

/// <summary>Method descriptors of <c>kv.v1.Placement</c> (proto/kv/v1/placement.proto); checked against the proto by ContractTests.</summary>
public static class PlacementContract
{
    public const string ServiceName = "kv.v1.Placement";

    public static readonly Method<BootstrapRequest, BootstrapResponse> Bootstrap = Unary("Bootstrap", BootstrapRequest.Parser, BootstrapResponse.Parser);
    public static readonly Method<GetClusterInfoRequest, GetClusterInfoResponse> GetClusterInfo = Unary("GetClusterInfo", GetClusterInfoRequest.Parser, GetClusterInfoResponse.Parser);
    public static readonly Method<StoreHeartbeatRequest, StoreHeartbeatResponse> StoreHeartbeat = Unary("StoreHeartbeat", StoreHeartbeatRequest.Parser, StoreHeartbeatResponse.Parser);
    public static readonly Method<RangeHeartbeatRequest, RangeHeartbeatResponse> RangeHeartbeat = Unary("RangeHeartbeat", RangeHeartbeatRequest.Parser, RangeHeartbeatResponse.Parser);
    public static readonly Method<ListStoresRequest, ListStoresResponse> ListStores = Unary("ListStores", ListStoresRequest.Parser, ListStoresResponse.Parser);
    public static readonly Method<GetRangeRequest, GetRangeResponse> GetRange = Unary("GetRange", GetRangeRequest.Parser, GetRangeResponse.Parser);
    public static readonly Method<GetRangeByIdRequest, GetRangeResponse> GetRangeById = Unary("GetRangeById", GetRangeByIdRequest.Parser, GetRangeResponse.Parser);
    public static readonly Method<ScanRangesRequest, ScanRangesResponse> ScanRanges = Unary("ScanRanges", ScanRangesRequest.Parser, ScanRangesResponse.Parser);
    public static readonly Method<AllocIdRequest, AllocIdResponse> AllocId = Unary("AllocId", AllocIdRequest.Parser, AllocIdResponse.Parser);
    public static readonly Method<GetTimestampRequest, GetTimestampResponse> GetTimestamp = Unary("GetTimestamp", GetTimestampRequest.Parser, GetTimestampResponse.Parser);

    public static IReadOnlyList<IMethod> All =>
        [Bootstrap, GetClusterInfo, StoreHeartbeat, RangeHeartbeat, ListStores, GetRange, GetRangeById, ScanRanges, AllocId, GetTimestamp];

    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse> =>
        new(MethodType.Unary, ServiceName, name, Marshallers.Create(request), Marshallers.Create(response));
}
