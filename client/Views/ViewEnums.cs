using Kv.Proto.V1;

namespace Kv.Client.Views;

// The enums of the view records. They are serialized as camelCase strings ("drainStore",
// "running"): the JSON contract (docs/CLI.md) names them, so a value is never renamed, only added.
// A proto value this client does not know yet (a newer server) maps to Unknown rather than failing.

public enum OperationKindView
{
    Unknown, Split, AddReplica, RemoveReplica, MoveReplica, TransferLeader, DrainStore, ReplaceStore, Balance,
}

public enum OperationStateView
{
    Unknown, Pending, Running, Succeeded, Failed, Cancelled,
}

public enum StepKindView
{
    Unknown, Split, AddReplica, RemoveReplica, MoveReplica, TransferLeader,
}

public enum StepStateView
{
    Unknown, Pending, Running, Done, Superseded, Failed, Skipped,
}

public enum StoreAdminStateView
{
    Unknown, Active, Draining, Drained, Removed,
}

public enum StoreLivenessView
{
    Unknown, Up, Down,
}

public enum ReplicaRoleView
{
    Voter, Learner,
}

public enum AuditActionView
{
    Unknown, Submitted, StepDone, Succeeded, Failed, CancelRequested, Cancelled, Override, Setting, Replanned, Pruned,
}

/// <summary>Proto enums to view enums (and back where requests need it).</summary>
public static class ViewEnums
{
    public static OperationKindView From(OperationKind kind) => kind switch
    {
        OperationKind.Split => OperationKindView.Split,
        OperationKind.AddReplica => OperationKindView.AddReplica,
        OperationKind.RemoveReplica => OperationKindView.RemoveReplica,
        OperationKind.MoveReplica => OperationKindView.MoveReplica,
        OperationKind.TransferLeader => OperationKindView.TransferLeader,
        OperationKind.DrainStore => OperationKindView.DrainStore,
        OperationKind.ReplaceStore => OperationKindView.ReplaceStore,
        OperationKind.Balance => OperationKindView.Balance,
        _ => OperationKindView.Unknown,
    };

    public static OperationKind ToProto(OperationKindView kind) => kind switch
    {
        OperationKindView.Split => OperationKind.Split,
        OperationKindView.AddReplica => OperationKind.AddReplica,
        OperationKindView.RemoveReplica => OperationKind.RemoveReplica,
        OperationKindView.MoveReplica => OperationKind.MoveReplica,
        OperationKindView.TransferLeader => OperationKind.TransferLeader,
        OperationKindView.DrainStore => OperationKind.DrainStore,
        OperationKindView.ReplaceStore => OperationKind.ReplaceStore,
        OperationKindView.Balance => OperationKind.Balance,
        _ => OperationKind.Unspecified,
    };

    public static OperationStateView From(OperationState state) => state switch
    {
        OperationState.Pending => OperationStateView.Pending,
        OperationState.Running => OperationStateView.Running,
        OperationState.Succeeded => OperationStateView.Succeeded,
        OperationState.Failed => OperationStateView.Failed,
        OperationState.Cancelled => OperationStateView.Cancelled,
        _ => OperationStateView.Unknown,
    };

    public static OperationState ToProto(OperationStateView state) => state switch
    {
        OperationStateView.Pending => OperationState.Pending,
        OperationStateView.Running => OperationState.Running,
        OperationStateView.Succeeded => OperationState.Succeeded,
        OperationStateView.Failed => OperationState.Failed,
        OperationStateView.Cancelled => OperationState.Cancelled,
        _ => OperationState.Unspecified,
    };

    public static StepKindView From(StepKind kind) => kind switch
    {
        StepKind.Split => StepKindView.Split,
        StepKind.AddReplica => StepKindView.AddReplica,
        StepKind.RemoveReplica => StepKindView.RemoveReplica,
        StepKind.MoveReplica => StepKindView.MoveReplica,
        StepKind.TransferLeader => StepKindView.TransferLeader,
        _ => StepKindView.Unknown,
    };

    public static StepStateView From(StepState state) => state switch
    {
        StepState.Pending => StepStateView.Pending,
        StepState.Running => StepStateView.Running,
        StepState.Done => StepStateView.Done,
        StepState.Superseded => StepStateView.Superseded,
        StepState.Failed => StepStateView.Failed,
        StepState.Skipped => StepStateView.Skipped,
        _ => StepStateView.Unknown,
    };

    public static StoreAdminStateView From(StoreAdminState state) => state switch
    {
        StoreAdminState.Active => StoreAdminStateView.Active,
        StoreAdminState.Draining => StoreAdminStateView.Draining,
        StoreAdminState.Drained => StoreAdminStateView.Drained,
        StoreAdminState.Removed => StoreAdminStateView.Removed,
        _ => StoreAdminStateView.Unknown,
    };

    public static StoreLivenessView From(StoreLivenessState state) => state switch
    {
        StoreLivenessState.StoreLivenessUp => StoreLivenessView.Up,
        StoreLivenessState.StoreLivenessDown => StoreLivenessView.Down,
        _ => StoreLivenessView.Unknown,
    };

    public static ReplicaRoleView From(ReplicaRole role) => role == ReplicaRole.Learner ? ReplicaRoleView.Learner : ReplicaRoleView.Voter;

    public static AuditActionView From(AuditAction action) => action switch
    {
        AuditAction.Submitted => AuditActionView.Submitted,
        AuditAction.StepDone => AuditActionView.StepDone,
        AuditAction.Succeeded => AuditActionView.Succeeded,
        AuditAction.Failed => AuditActionView.Failed,
        AuditAction.CancelRequested => AuditActionView.CancelRequested,
        AuditAction.Cancelled => AuditActionView.Cancelled,
        AuditAction.Override => AuditActionView.Override,
        AuditAction.Setting => AuditActionView.Setting,
        AuditAction.Replanned => AuditActionView.Replanned,
        AuditAction.Pruned => AuditActionView.Pruned,
        _ => AuditActionView.Unknown,
    };
}
