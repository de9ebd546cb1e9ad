using System.Management.Automation;
using Kv.Client;
using Kv.Client.Views;

namespace Kv.PowerShell.Connection;

/// <summary>
/// Lets a ulong id parameter (-StoreId, -RangeId) take the client's typed ids, so that
/// <c>Get-KvStore | Start-KvStoreDrain</c> binds: a StoreView or RangeView piped by value gives its
/// Id, and a typed id bound by property name (StoreView.Id through an alias) gives its number.
/// Anything else passes through to PowerShell's own conversion, which refuses what is not a number.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class IdTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject ps ? ps.BaseObject : inputData;
        return value switch
        {
            StoreId id => id.Value,
            RangeId id => id.Value,
            ReplicaId id => id.Value,
            StoreView store => store.Id.Value,
            RangeView range => range.Id.Value,
            _ => inputData,
        };
    }
}

/// <summary>Lets an operation id parameter (-Id, string) take the client's OperationId (OperationView.Id by property name, or an OperationView by value).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class OperationIdTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject ps ? ps.BaseObject : inputData;
        return value switch
        {
            OperationId id => id.Value,
            OperationView operation => operation.Id.Value,
            _ => inputData,
        };
    }
}
