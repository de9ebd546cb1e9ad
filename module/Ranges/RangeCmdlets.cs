using System.Management.Automation;
using System.Text;
using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Views;
using Kv.PowerShell.Connection;
using Kv.PowerShell.Operations;
using Kv.Proto.V1;

namespace Kv.PowerShell.Ranges;

/// <summary><c>Get-KvRange</c> (kvctl range list|show): placement's range directory, or the ranges -RangeId names.</summary>
[Cmdlet(VerbsCommon.Get, "KvRange")]
[OutputType(typeof(RangeView))]
public sealed class GetKvRangeCommand : KvCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Id")]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(RangeIdCompleter))]
    public ulong[]? RangeId { get; set; }

    protected override object? Target => RangeId;

    protected override void Process()
    {
        var ranges = Await(Connection.Data.ListRangesAsync(StopToken)).Where(r => r.Range is not null).Select(RangeView.From).ToList();
        if (RangeId is null)
        {
            WriteObject(ranges, enumerateCollection: true);
            return;
        }

        foreach (var id in RangeId)
        {
            if (ranges.FirstOrDefault(r => r.Id.Value == id) is { } range)
            {
                WriteObject(range);
            }
            else
            {
                WriteError(KvErrors.Record(new ItemNotFoundException($"range {id} not found; Get-KvRange lists the ranges that exist"),
                    "RangeNotFound", ErrorCategory.ObjectNotFound, id, null));
            }
        }
    }
}

/// <summary>
/// <c>Split-KvRange</c> (kvctl range split): an operation that splits a range at -Key: the range
/// keeps [start, Key), a new range takes [Key, end). Without -RangeId the range holding the key
/// is found in placement's directory and the plan is fenced on the epoch read there, so a range
/// that changed meanwhile refuses the plan.
/// </summary>
[Cmdlet(VerbsCommon.Split, "KvRange", SupportsShouldProcess = true)]
[OutputType(typeof(OperationView), typeof(PlanView))]
public sealed class SplitKvRangeCommand : KvOperationCmdlet
{
    /// <summary>The first key of the new right-hand range (UTF-8 text, or hex with -Hex); strictly inside the range.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [AllowEmptyString]
    public string Key { get; set; } = string.Empty;

    /// <summary>The range to split (default: the one holding -Key).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(RangeIdCompleter))]
    public ulong RangeId { get; set; }

    /// <summary>-Key is hex (0x6b31 or 6b31) instead of UTF-8 text.</summary>
    [Parameter]
    public SwitchParameter Hex { get; set; }

    protected override object? Target => Key;

    protected override void Process()
    {
        var key = ParseKey();
        var range = new RangeId(RangeId);
        EpochView? epoch = null;
        if (RangeId == 0)
        {
            var holding = Await(Connection.Data.ListRangesAsync(StopToken)).Select(r => r.Range).FirstOrDefault(r => r is not null && Holds(r, key));
            if (holding is null)
            {
                ThrowTerminatingError(KvErrors.Record(new ItemNotFoundException($"no range holds key {KeyFormat.Printable(key)}; Get-KvRange lists the ranges"),
                    "RangeNotFound", ErrorCategory.ObjectNotFound, Key, null));
                return;
            }

            range = new RangeId(holding.RangeId);
            epoch = EpochView.From(holding.Epoch);
        }

        Submit(() => OperationRequest.Split(range, key) with { Epoch = epoch }, $"range {range}", $"Split at {KeyFormat.Printable(key)}");
    }

    private byte[] ParseKey()
    {
        byte[] key;
        if (Hex)
        {
            var text = Key.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? Key[2..] : Key;
            try
            {
                key = Convert.FromHexString(text);
            }
            catch (FormatException)
            {
                ThrowTerminatingError(KvErrors.Invalid("InvalidKey", $"-Key '{Key}' is not hex: with -Hex give an even number of 0-9 a-f digits, optionally after 0x", Key));
                return [];
            }
        }
        else
        {
            key = Encoding.UTF8.GetBytes(Key);
        }

        if (key.Length == 0)
        {
            ThrowTerminatingError(KvErrors.Invalid("InvalidKey", "-Key is empty: give the first key of the new right-hand range", Key));
        }

        return key;
    }

    private static bool Holds(RangeDescriptor range, byte[] key) =>
        range.StartKey.Span.SequenceCompareTo(key) <= 0 && (range.EndKey.IsEmpty || ((ReadOnlySpan<byte>)key).SequenceCompareTo(range.EndKey.Span) < 0);
}

/// <summary>
/// <c>Move-KvRangeLeader</c> (kvctl range transfer-leader): an operation that moves a range's
/// leadership to its voter on -StoreId. Also known as Move-KvLeader (shared/DESIGN.md section 9).
/// </summary>
[Cmdlet(VerbsCommon.Move, "KvRangeLeader", SupportsShouldProcess = true)]
[Alias("Move-KvLeader")]
[OutputType(typeof(OperationView), typeof(PlanView))]
public sealed class MoveKvRangeLeaderCommand : KvOperationCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(RangeIdCompleter))]
    public ulong RangeId { get; set; }

    /// <summary>The store that should lead (it must hold a voter of the range).</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(StoreIdCompleter))]
    public ulong StoreId { get; set; }

    protected override object? Target => RangeId;

    protected override void Process() =>
        Submit(() => OperationRequest.TransferLeader(new RangeId(RangeId), new StoreId(StoreId)), $"range {RangeId}", $"Move the leadership to store {StoreId}");
}

/// <summary><c>Add-KvReplica</c> (kvctl replica add): an operation that adds a replica of a range on a store (learner first, promoted once caught up).</summary>
[Cmdlet(VerbsCommon.Add, "KvReplica", SupportsShouldProcess = true)]
[OutputType(typeof(OperationView), typeof(PlanView))]
public sealed class AddKvReplicaCommand : KvOperationCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(RangeIdCompleter))]
    public ulong RangeId { get; set; }

    /// <summary>The store that gets the new replica (Up, holding no replica of the range).</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(StoreIdCompleter))]
    public ulong StoreId { get; set; }

    protected override object? Target => RangeId;

    protected override void Process() =>
        Submit(() => OperationRequest.AddReplica(new RangeId(RangeId), new StoreId(StoreId)), $"range {RangeId}", $"Add a replica on store {StoreId}");
}

/// <summary>
/// <c>Remove-KvReplica</c> (kvctl replica remove): an operation that removes a range's replica on
/// a store (leadership moves off it first); refused for the last voter, and by the preflight
/// unless -Force -Reason.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "KvReplica", SupportsShouldProcess = true)]
[OutputType(typeof(OperationView), typeof(PlanView))]
public sealed class RemoveKvReplicaCommand : KvOperationCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(RangeIdCompleter))]
    public ulong RangeId { get; set; }

    /// <summary>The store whose replica is removed.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(StoreIdCompleter))]
    public ulong StoreId { get; set; }

    protected override object? Target => RangeId;

    protected override void Process() =>
        Submit(() => OperationRequest.RemoveReplica(new RangeId(RangeId), new StoreId(StoreId)), $"range {RangeId}", $"Remove the replica on store {StoreId}");
}

/// <summary>
/// <c>Move-KvReplica</c> (kvctl replica move): an operation that moves a range's replica from
/// -FromStoreId to -ToStoreId (default: a store the planner picks, respecting failure domains):
/// learner on the target, catch-up, joint swap, source removed.
/// </summary>
[Cmdlet(VerbsCommon.Move, "KvReplica", SupportsShouldProcess = true)]
[OutputType(typeof(OperationView), typeof(PlanView))]
public sealed class MoveKvReplicaCommand : KvOperationCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(RangeIdCompleter))]
    public ulong RangeId { get; set; }

    /// <summary>The store the replica leaves.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(StoreIdCompleter))]
    public ulong FromStoreId { get; set; }

    /// <summary>The store the replica moves to (Up); default: the planner picks one.</summary>
    [Parameter(Position = 2)]
    [IdTransformation]
    [ValidateRange(1, ulong.MaxValue)]
    [ArgumentCompleter(typeof(StoreIdCompleter))]
    public ulong ToStoreId { get; set; }

    protected override object? Target => RangeId;

    protected override void Process()
    {
        if (ToStoreId == FromStoreId)
        {
            ThrowTerminatingError(KvErrors.Invalid("SameStore",
                $"-FromStoreId and -ToStoreId are both store {FromStoreId}; a move needs another store (or leave -ToStoreId out to let the planner pick)", RangeId));
        }

        var to = ToStoreId == 0 ? (StoreId?)null : new StoreId(ToStoreId);
        Submit(() => OperationRequest.MoveReplica(new RangeId(RangeId), new StoreId(FromStoreId), to), $"range {RangeId}",
            $"Move the replica on store {FromStoreId} to {(to is { } t ? $"store {t}" : "a store the planner picks")}");
    }
}
