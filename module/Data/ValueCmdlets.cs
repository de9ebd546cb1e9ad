using System.Management.Automation;
using Kv.PowerShell.Connection;

namespace Kv.PowerShell.Data;

/// <summary>
/// <c>Get-KvValue</c> (kvctl kv get|scan): reads keys in one snapshot-isolated read-only
/// transaction per input record, so the keys of one call are read at the same snapshot. A missing
/// key is a non-terminating KeyNotFound error (ObjectNotFound), like Get-Item: the other keys are
/// still written. -StartKey/-EndKey list the pairs of a key range instead (kvctl kv scan).
/// </summary>
[Cmdlet(VerbsCommon.Get, "KvValue", DefaultParameterSetName = KeySet)]
[OutputType(typeof(KvValue))]
public sealed class GetKvValueCommand : KvCmdlet
{
    private const string KeySet = "Key";
    private const string ScanSet = "Scan";

    /// <summary>The keys to read (UTF-8 text, or hex with -Hex).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = KeySet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string[] Key { get; set; } = [];

    /// <summary>First key of the scan (inclusive); '' for the start of the key space.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ScanSet)]
    [AllowEmptyString]
    public string StartKey { get; set; } = string.Empty;

    /// <summary>Upper bound of the scan (exclusive); '' (default) for the end of the key space.</summary>
    [Parameter(ParameterSetName = ScanSet)]
    [AllowEmptyString]
    public string EndKey { get; set; } = string.Empty;

    /// <summary>At most this many pairs (default 100; 0 for no limit).</summary>
    [Parameter(ParameterSetName = ScanSet)]
    [ValidateRange(0, int.MaxValue)]
    public int Limit { get; set; } = 100;

    /// <summary>Newest key first: descending from just below -EndKey.</summary>
    [Parameter(ParameterSetName = ScanSet)]
    public SwitchParameter Descending { get; set; }

    /// <summary>Keys are hex (0x6b31 or 6b31) instead of UTF-8 text.</summary>
    [Parameter]
    public SwitchParameter Hex { get; set; }

    protected override object? Target => ParameterSetName == KeySet ? Key : StartKey;

    protected override void Process()
    {
        if (ParameterSetName == ScanSet)
        {
            Scan();
            return;
        }

        var keys = Key.Select(k => KeyArgument.Parse(this, k, Hex, "-Key")).ToList();
        var txn = Await(Connection.Data.BeginAsync(StopToken));
        var found = new List<(byte[] Key, byte[]? Value)>();
        try
        {
            foreach (var key in keys)
            {
                found.Add((key, Await(txn.GetAsync(key, StopToken))));
            }

            // Read-only: commits nothing, but ends the transaction cleanly.
            _ = Await(txn.CommitAsync(StopToken));
        }
        finally
        {
            txn.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        for (var i = 0; i < found.Count; i++)
        {
            var (key, value) = found[i];
            if (value is null)
            {
                WriteError(KvErrors.Record(new ItemNotFoundException($"key {Kv.Client.Views.KeyFormat.Printable(key)} not found"),
                    "KeyNotFound", ErrorCategory.ObjectNotFound, Key[i], null));
            }
            else
            {
                WriteObject(new KvValue(key, value, txn.StartTs));
            }
        }
    }

    private void Scan()
    {
        var start = KeyArgument.Parse(this, StartKey, Hex, "-StartKey", allowEmpty: true);
        var end = KeyArgument.Parse(this, EndKey, Hex, "-EndKey", allowEmpty: true);
        var txn = Await(Connection.Data.BeginAsync(StopToken));
        IReadOnlyList<KeyValuePair<byte[], byte[]>> pairs;
        try
        {
            pairs = Await(txn.ScanAsync(start, end, Limit, Descending, StopToken));
            _ = Await(txn.CommitAsync(StopToken));
        }
        finally
        {
            txn.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        foreach (var pair in pairs)
        {
            WriteObject(new KvValue(pair.Key, pair.Value, txn.StartTs));
        }
    }
}

/// <summary>
/// <c>Set-KvValue</c> (kvctl kv put): writes one key, as one transaction per input record
/// (Percolator two-phase commit). -PassThru writes the KvValue with its commit timestamp.
/// </summary>
[Cmdlet(VerbsCommon.Set, "KvValue", SupportsShouldProcess = true)]
[OutputType(typeof(KvValue))]
public sealed class SetKvValueCommand : KvCmdlet
{
    /// <summary>The key (UTF-8 text, or hex with -Hex).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string Key { get; set; } = string.Empty;

    /// <summary>The value (UTF-8 text, or hex with -Hex); may be empty.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string Value { get; set; } = string.Empty;

    /// <summary>-Key and -Value are hex instead of UTF-8 text.</summary>
    [Parameter]
    public SwitchParameter Hex { get; set; }

    /// <summary>Write the KvValue written, with its commit timestamp.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override object? Target => Key;

    protected override void Process()
    {
        var key = KeyArgument.Parse(this, Key, Hex, "-Key");
        var value = KeyArgument.Parse(this, Value, Hex, "-Value", allowEmpty: true);
        if (!ShouldProcess($"key {Kv.Client.Views.KeyFormat.Printable(key)}", "Set the value"))
        {
            return;
        }

        var txn = Await(Connection.Data.BeginAsync(StopToken));
        Kv.Client.Timestamp commitTs;
        try
        {
            txn.Put(key, value);
            commitTs = Await(txn.CommitAsync(StopToken));
        }
        finally
        {
            txn.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        if (PassThru)
        {
            WriteObject(new KvValue(key, value, commitTs));
        }
    }
}

/// <summary>
/// <c>Remove-KvValue</c> (kvctl kv delete): deletes keys, those of one input record in one
/// transaction. Deleting a missing key succeeds (it stays missing). The data is gone for good, so
/// ConfirmImpact is High and it asks first; -Force deletes without asking (-WhatIf still only
/// says what would happen).
/// </summary>
[Cmdlet(VerbsCommon.Remove, "KvValue", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(KvValue))]
public sealed class RemoveKvValueCommand : KvCmdlet
{
    /// <summary>The keys to delete (UTF-8 text, or hex with -Hex).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string[] Key { get; set; } = [];

    /// <summary>-Key is hex instead of UTF-8 text.</summary>
    [Parameter]
    public SwitchParameter Hex { get; set; }

    /// <summary>Delete without asking.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write a KvValue (Value null) for each key deleted, with the commit timestamp.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override object? Target => Key;

    protected override void Process()
    {
        var keys = Key.Select(k => KeyArgument.Parse(this, k, Hex, "-Key"))
            .Where(k => (Force && !WhatIfRequested) || ShouldProcess($"key {Kv.Client.Views.KeyFormat.Printable(k)}", "Delete the key and its value"))
            .ToList();
        if (keys.Count == 0)
        {
            return;
        }

        var txn = Await(Connection.Data.BeginAsync(StopToken));
        Kv.Client.Timestamp commitTs;
        try
        {
            foreach (var key in keys)
            {
                txn.Delete(key);
            }

            commitTs = Await(txn.CommitAsync(StopToken));
        }
        finally
        {
            txn.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        if (PassThru)
        {
            foreach (var key in keys)
            {
                WriteObject(new KvValue(key, null, commitTs));
            }
        }
    }
}
