using Grpc.Core;
using Google.Protobuf.Reflection;
using Kv.Proto.V1;

namespace Kv.Node.Tests.ClientReactions;

/// <summary>
/// Method descriptors of the generated services, so scripted tests can name a method and host it
/// with their own handler. Collected through the generated <c>BindService(ServiceBinderBase, null)</c>
/// (public API, the same descriptors the generated stubs and base classes use): nothing here is
/// written by hand but the list of names.
/// </summary>
internal static class WireMethods
{
    // Every method of the four client-facing services, by full name (/kv.v1.RawKv/Get).
    private static readonly Dictionary<string, IMethod> All = Collect();

    public static Method<TRequest, TResponse> Find<TRequest, TResponse>(ServiceDescriptor service, string name)
        where TRequest : class
        where TResponse : class =>
        (Method<TRequest, TResponse>)All[$"/{service.FullName}/{name}"];

    private static Dictionary<string, IMethod> Collect()
    {
        var collector = new Collector();
        Kv.Proto.V1.RawKv.BindService(collector, null);
        Kv.Proto.V1.TxnKv.BindService(collector, null);
        Kv.Proto.V1.Admin.BindService(collector, null);
        Kv.Proto.V1.Placement.BindService(collector, null);
        return collector.Found;
    }

    private sealed class Collector : ServiceBinderBase
    {
        public Dictionary<string, IMethod> Found { get; } = new(StringComparer.Ordinal);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            Found.Add(method.FullName, method);

        // Admin.WatchOperation streams; the base class throws for every kind it is not told about.
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            Found.Add(method.FullName, method);
    }
}

/// <summary>The methods of <c>kv.v1.RawKv</c>, from the generated code.</summary>
internal static class RawKvMethods
{
    public static readonly Method<RawGetRequest, RawGetResponse> Get = WireMethods.Find<RawGetRequest, RawGetResponse>(Kv.Proto.V1.RawKv.Descriptor, "Get");

    public static readonly Method<RawPutRequest, RawPutResponse> Put = WireMethods.Find<RawPutRequest, RawPutResponse>(Kv.Proto.V1.RawKv.Descriptor, "Put");

    public static readonly Method<RawDeleteRequest, RawDeleteResponse> Delete = WireMethods.Find<RawDeleteRequest, RawDeleteResponse>(Kv.Proto.V1.RawKv.Descriptor, "Delete");

    public static readonly Method<RawScanRequest, RawScanResponse> Scan = WireMethods.Find<RawScanRequest, RawScanResponse>(Kv.Proto.V1.RawKv.Descriptor, "Scan");
}

/// <summary>The methods of <c>kv.v1.TxnKv</c>, from the generated code.</summary>
internal static class TxnKvMethods
{
    public static readonly Method<TxnGetRequest, TxnGetResponse> Get = WireMethods.Find<TxnGetRequest, TxnGetResponse>(Kv.Proto.V1.TxnKv.Descriptor, "Get");

    public static readonly Method<TxnScanRequest, TxnScanResponse> Scan = WireMethods.Find<TxnScanRequest, TxnScanResponse>(Kv.Proto.V1.TxnKv.Descriptor, "Scan");

    public static readonly Method<PrewriteRequest, PrewriteResponse> Prewrite = WireMethods.Find<PrewriteRequest, PrewriteResponse>(Kv.Proto.V1.TxnKv.Descriptor, "Prewrite");

    public static readonly Method<CommitRequest, CommitResponse> Commit = WireMethods.Find<CommitRequest, CommitResponse>(Kv.Proto.V1.TxnKv.Descriptor, "Commit");

    public static readonly Method<RollbackRequest, RollbackResponse> Rollback = WireMethods.Find<RollbackRequest, RollbackResponse>(Kv.Proto.V1.TxnKv.Descriptor, "Rollback");

    public static readonly Method<CheckTxnStatusRequest, CheckTxnStatusResponse> CheckTxnStatus = WireMethods.Find<CheckTxnStatusRequest, CheckTxnStatusResponse>(Kv.Proto.V1.TxnKv.Descriptor, "CheckTxnStatus");

    public static readonly Method<ResolveLockRequest, ResolveLockResponse> ResolveLock = WireMethods.Find<ResolveLockRequest, ResolveLockResponse>(Kv.Proto.V1.TxnKv.Descriptor, "ResolveLock");

    public static readonly Method<TxnHeartBeatRequest, TxnHeartBeatResponse> TxnHeartBeat = WireMethods.Find<TxnHeartBeatRequest, TxnHeartBeatResponse>(Kv.Proto.V1.TxnKv.Descriptor, "TxnHeartBeat");

    public static readonly Method<ScanLockRequest, ScanLockResponse> ScanLock = WireMethods.Find<ScanLockRequest, ScanLockResponse>(Kv.Proto.V1.TxnKv.Descriptor, "ScanLock");
}

/// <summary>The methods of <c>kv.v1.Admin</c>, from the generated code.</summary>
internal static class AdminMethods
{
    public static readonly Method<PlanOperationRequest, PlanOperationResponse> PlanOperation = WireMethods.Find<PlanOperationRequest, PlanOperationResponse>(Kv.Proto.V1.Admin.Descriptor, "PlanOperation");

    public static readonly Method<SubmitOperationRequest, SubmitOperationResponse> SubmitOperation = WireMethods.Find<SubmitOperationRequest, SubmitOperationResponse>(Kv.Proto.V1.Admin.Descriptor, "SubmitOperation");

    public static readonly Method<GetOperationRequest, GetOperationResponse> GetOperation = WireMethods.Find<GetOperationRequest, GetOperationResponse>(Kv.Proto.V1.Admin.Descriptor, "GetOperation");

    public static readonly Method<ListOperationsRequest, ListOperationsResponse> ListOperations = WireMethods.Find<ListOperationsRequest, ListOperationsResponse>(Kv.Proto.V1.Admin.Descriptor, "ListOperations");

    public static readonly Method<WatchOperationRequest, WatchOperationResponse> WatchOperation = WireMethods.Find<WatchOperationRequest, WatchOperationResponse>(Kv.Proto.V1.Admin.Descriptor, "WatchOperation");

    public static readonly Method<CancelOperationRequest, CancelOperationResponse> CancelOperation = WireMethods.Find<CancelOperationRequest, CancelOperationResponse>(Kv.Proto.V1.Admin.Descriptor, "CancelOperation");

    public static readonly Method<ListStoreStatusRequest, ListStoreStatusResponse> ListStoreStatus = WireMethods.Find<ListStoreStatusRequest, ListStoreStatusResponse>(Kv.Proto.V1.Admin.Descriptor, "ListStoreStatus");

    public static readonly Method<SetStoreMaintenanceRequest, SetStoreMaintenanceResponse> SetStoreMaintenance = WireMethods.Find<SetStoreMaintenanceRequest, SetStoreMaintenanceResponse>(Kv.Proto.V1.Admin.Descriptor, "SetStoreMaintenance");

    public static readonly Method<ListAuditRequest, ListAuditResponse> ListAudit = WireMethods.Find<ListAuditRequest, ListAuditResponse>(Kv.Proto.V1.Admin.Descriptor, "ListAudit");

    public static readonly Method<GetClusterSettingsRequest, GetClusterSettingsResponse> GetClusterSettings = WireMethods.Find<GetClusterSettingsRequest, GetClusterSettingsResponse>(Kv.Proto.V1.Admin.Descriptor, "GetClusterSettings");
}

/// <summary>The methods of <c>kv.v1.Placement</c>, from the generated code.</summary>
internal static class PlacementMethods
{
    public static readonly Method<BootstrapRequest, BootstrapResponse> Bootstrap = WireMethods.Find<BootstrapRequest, BootstrapResponse>(Kv.Proto.V1.Placement.Descriptor, "Bootstrap");

    public static readonly Method<GetClusterInfoRequest, GetClusterInfoResponse> GetClusterInfo = WireMethods.Find<GetClusterInfoRequest, GetClusterInfoResponse>(Kv.Proto.V1.Placement.Descriptor, "GetClusterInfo");

    public static readonly Method<StoreHeartbeatRequest, StoreHeartbeatResponse> StoreHeartbeat = WireMethods.Find<StoreHeartbeatRequest, StoreHeartbeatResponse>(Kv.Proto.V1.Placement.Descriptor, "StoreHeartbeat");

    public static readonly Method<RangeHeartbeatRequest, RangeHeartbeatResponse> RangeHeartbeat = WireMethods.Find<RangeHeartbeatRequest, RangeHeartbeatResponse>(Kv.Proto.V1.Placement.Descriptor, "RangeHeartbeat");

    public static readonly Method<ListStoresRequest, ListStoresResponse> ListStores = WireMethods.Find<ListStoresRequest, ListStoresResponse>(Kv.Proto.V1.Placement.Descriptor, "ListStores");

    public static readonly Method<GetRangeRequest, GetRangeResponse> GetRange = WireMethods.Find<GetRangeRequest, GetRangeResponse>(Kv.Proto.V1.Placement.Descriptor, "GetRange");

    public static readonly Method<GetRangeByIdRequest, GetRangeResponse> GetRangeById = WireMethods.Find<GetRangeByIdRequest, GetRangeResponse>(Kv.Proto.V1.Placement.Descriptor, "GetRangeById");

    public static readonly Method<ScanRangesRequest, ScanRangesResponse> ScanRanges = WireMethods.Find<ScanRangesRequest, ScanRangesResponse>(Kv.Proto.V1.Placement.Descriptor, "ScanRanges");

    public static readonly Method<AllocIdRequest, AllocIdResponse> AllocId = WireMethods.Find<AllocIdRequest, AllocIdResponse>(Kv.Proto.V1.Placement.Descriptor, "AllocId");

    public static readonly Method<GetTimestampRequest, GetTimestampResponse> GetTimestamp = WireMethods.Find<GetTimestampRequest, GetTimestampResponse>(Kv.Proto.V1.Placement.Descriptor, "GetTimestamp");
}
