using Google.Protobuf;
using Kv.Client.Rpc;
using Kv.Proto.V1;

namespace Kv.Client.Contracts;

/// <summary>Method descriptors of <c>kv.v1.TxnKv</c> (proto/kv/v1/txn_kv.proto); checked against the proto by ContractTests.</summary>
public static class TxnKvContract
{
    public const string ServiceName = "kv.v1.TxnKv";

    public static readonly Method<TxnGetRequest, TxnGetResponse> Get = Unary("Get", TxnGetRequest.Parser, TxnGetResponse.Parser);
    public static readonly Method<TxnScanRequest, TxnScanResponse> Scan = Unary("Scan", TxnScanRequest.Parser, TxnScanResponse.Parser);
    public static readonly Method<PrewriteRequest, PrewriteResponse> Prewrite = Unary("Prewrite", PrewriteRequest.Parser, PrewriteResponse.Parser);
    public static readonly Method<CommitRequest, CommitResponse> Commit = Unary("Commit", CommitRequest.Parser, CommitResponse.Parser);
    public static readonly Method<RollbackRequest, RollbackResponse> Rollback = Unary("Rollback", RollbackRequest.Parser, RollbackResponse.Parser);
    public static readonly Method<CheckTxnStatusRequest, CheckTxnStatusResponse> CheckTxnStatus = Unary("CheckTxnStatus", CheckTxnStatusRequest.Parser, CheckTxnStatusResponse.Parser);
    public static readonly Method<ResolveLockRequest, ResolveLockResponse> ResolveLock = Unary("ResolveLock", ResolveLockRequest.Parser, ResolveLockResponse.Parser);
    public static readonly Method<TxnHeartBeatRequest, TxnHeartBeatResponse> TxnHeartBeat = Unary("TxnHeartBeat", TxnHeartBeatRequest.Parser, TxnHeartBeatResponse.Parser);
    public static readonly Method<ScanLockRequest, ScanLockResponse> ScanLock = Unary("ScanLock", ScanLockRequest.Parser, ScanLockResponse.Parser);

    public static IReadOnlyList<IMethod> All => [Get, Scan, Prewrite, Commit, Rollback, CheckTxnStatus, ResolveLock, TxnHeartBeat, ScanLock];

    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse> =>
        new(MethodType.Unary, ServiceName, name, Marshallers.Create(request), Marshallers.Create(response));
}
