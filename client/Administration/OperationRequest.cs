using Google.Protobuf;
using Kv.Client.Views;
using Kv.Proto.V1;

namespace Kv.Client.Administration;

/// <summary>
/// An operation to plan or submit: its kind and target (made by the factory methods), plus the
/// optional fence (Epoch), Force (only with a Reason; the override is audited) and Id (when null,
/// SubmitAsync picks one, so the caller's retry of SubmitAsync with the same request object is
/// not idempotent: pass WithNewId() once and reuse the result to make it so).
/// </summary>
public sealed record OperationRequest
{
    private OperationRequest(OperationKindView kind) => Kind = kind;

    public OperationKindView Kind { get; }

    public RangeId? RangeId { get; init; }

    public ReadOnlyMemory<byte> SplitKey { get; init; }

    public StoreId? StoreId { get; init; }

    public StoreId? FromStoreId { get; init; }

    /// <summary>MoveReplica: null lets the planner choose (respecting failure domains).</summary>
    public StoreId? ToStoreId { get; init; }

    /// <summary>The range epoch the caller saw; a range at another epoch refuses the plan.</summary>
    public EpochView? Epoch { get; init; }

    public bool Force { get; init; }

    public string? Reason { get; init; }

    public OperationId? Id { get; init; }

    public static OperationRequest Split(RangeId range, ReadOnlyMemory<byte> splitKey) => new(OperationKindView.Split) { RangeId = range, SplitKey = splitKey };

    public static OperationRequest AddReplica(RangeId range, StoreId store) => new(OperationKindView.AddReplica) { RangeId = range, StoreId = store };

    public static OperationRequest RemoveReplica(RangeId range, StoreId store) => new(OperationKindView.RemoveReplica) { RangeId = range, StoreId = store };

    public static OperationRequest MoveReplica(RangeId range, StoreId from, StoreId? to) => new(OperationKindView.MoveReplica) { RangeId = range, FromStoreId = from, ToStoreId = to };

    public static OperationRequest TransferLeader(RangeId range, StoreId to) => new(OperationKindView.TransferLeader) { RangeId = range, StoreId = to };

    public static OperationRequest DrainStore(StoreId store) => new(OperationKindView.DrainStore) { StoreId = store };

    /// <summary>This request with a fresh client-chosen id (keep it to retry idempotently).</summary>
    public OperationRequest WithNewId() => this with { Id = OperationId.New() };

    /// <summary>Null when the request can be sent, else what is wrong and what to do (checked before any call).</summary>
    public string? Problem()
    {
        if (Force && string.IsNullOrWhiteSpace(Reason))
        {
            return "force needs a reason: the override of the preflight is audited; give one (kvctl: --reason \"why\")";
        }

        return Kind switch
        {
            OperationKindView.Split when RangeId is null || SplitKey.IsEmpty => "a split needs the range and a non-empty split key",
            OperationKindView.AddReplica or OperationKindView.RemoveReplica or OperationKindView.TransferLeader when RangeId is null || StoreId is null =>
                $"{Kind} needs the range and the store",
            OperationKindView.MoveReplica when RangeId is null || FromStoreId is null => "a move needs the range and the store it leaves",
            OperationKindView.MoveReplica when ToStoreId == FromStoreId => $"a move from store {FromStoreId} to the same store does nothing; name another --to store",
            OperationKindView.DrainStore when StoreId is null => "a drain needs the store",
            OperationKindView.Unknown => "the operation kind is not set",
            _ => null,
        };
    }

    internal OperationSpec ToSpec() => new()
    {
        Kind = ViewEnums.ToProto(Kind),
        RangeId = RangeId?.Value ?? 0,
        SplitKey = SplitKey.IsEmpty ? ByteString.Empty : ByteString.CopyFrom(SplitKey.Span),
        StoreId = StoreId?.Value ?? 0,
        FromStoreId = FromStoreId?.Value ?? 0,
        ToStoreId = ToStoreId?.Value ?? 0,
        Epoch = Epoch is null ? null : new RangeEpoch { ConfVer = Epoch.ConfVer, Version = Epoch.Version },
        Force = Force,
    };
}
