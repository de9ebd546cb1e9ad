using System.Management.Automation;
using System.Text;
using Kv.Client.Cluster;
using Kv.Client.Views;
using Kv.PowerShell.Connection;

namespace Kv.PowerShell.Data;

/// <summary>
/// What the scriptblock of Invoke-KvTransaction gets (as its first argument and as $_): reads see
/// the transaction's snapshot plus its own writes; writes are buffered until the commit. Keys and
/// values are UTF-8 strings (byte[] overloads for binary data). Every call runs to completion
/// before it returns, and Ctrl+C cancels the call in flight.
/// </summary>
public sealed class KvTransactionScope
{
    private readonly Transaction _txn;
    private readonly CancellationToken _stop;
    private readonly List<string> _writes = [];

    internal KvTransactionScope(Transaction txn, CancellationToken stop)
    {
        _txn = txn;
        _stop = stop;
    }

    /// <summary>The snapshot the transaction reads at.</summary>
    public Kv.Client.Timestamp StartTs => _txn.StartTs;

    /// <summary>The writes buffered so far, in call order ("put k", "delete k").</summary>
    public IReadOnlyList<string> Writes => _writes;

    /// <summary>The value of key as UTF-8 text, or null when the key does not exist.</summary>
    public string? Get(string key) => GetBytes(Bytes(key)) is { } value ? Encoding.UTF8.GetString(value) : null;

    public byte[]? GetBytes(byte[] key) => _txn.GetAsync(NonEmpty(key), _stop).GetAwaiter().GetResult();

    /// <summary>The pairs with keys in [start, end) ('' end: to the end of the key space), at most limit (0: all).</summary>
    public KvValue[] Scan(string start, string end, int limit) =>
        _txn.ScanAsync(Bytes(start), Bytes(end), limit, false, _stop).GetAwaiter().GetResult()
            .Select(p => new KvValue(p.Key, p.Value, _txn.StartTs)).ToArray();

    public void Put(string key, string value) => Put(Bytes(key), Bytes(value));

    public void Put(byte[] key, byte[] value)
    {
        _txn.Put(NonEmpty(key), value ?? []);
        _writes.Add($"put {KeyFormat.Printable(key)}");
    }

    public void Delete(string key) => Delete(Bytes(key));

    public void Delete(byte[] key)
    {
        _txn.Delete(NonEmpty(key));
        _writes.Add($"delete {KeyFormat.Printable(key)}");
    }

    private static byte[] Bytes(string? text) => Encoding.UTF8.GetBytes(text ?? string.Empty);

    private static byte[] NonEmpty(byte[]? key) =>
        key is { Length: > 0 } ? key : throw new ArgumentException("the key is empty: a key needs at least one byte", nameof(key));
}

/// <summary>
/// <c>Invoke-KvTransaction</c> (kvctl txn run): runs a scriptblock against one snapshot-isolated
/// transaction and commits its writes atomically when the scriptblock ends. In order:
/// 1. Begin (a start_ts from the TSO) and run the scriptblock with the KvTransactionScope as its
///    first argument and as $_. Its reads are real; its writes are buffered.
/// 2. The scriptblock threw: nothing is committed; the error is rethrown (a client error keeps
///    its id and category, as every cmdlet's).
/// 3. Writes buffered: ShouldProcess (-WhatIf reports them and discards them, writing nothing),
///    then the commit. A WriteConflict or TxnAborted means nothing was committed: run the whole
///    Invoke-KvTransaction again. CommitOutcomeUnknown is never retried by the module.
/// 4. Only then the scriptblock's output is written (so a runbook never acts on reads of a
///    transaction that did not commit), and with -PassThru a KvTransactionResult.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "KvTransaction", SupportsShouldProcess = true)]
[OutputType(typeof(PSObject), typeof(KvTransactionResult))]
public sealed class InvokeKvTransactionCommand : KvCmdlet
{
    /// <summary>The work: { param($txn) $txn.Get('k'); $txn.Put('k', 'v'); $txn.Delete('k') }.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    public ScriptBlock ScriptBlock { get; set; } = null!;

    /// <summary>After the commit, also write a KvTransactionResult (start_ts, commit_ts, the writes).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        // Step 1.
        var txn = Await(Connection.Data.BeginAsync(StopToken));
        try
        {
            var scope = new KvTransactionScope(txn, StopToken);
            System.Collections.ObjectModel.Collection<PSObject> output;
            try
            {
                output = ScriptBlock.InvokeWithContext(null, [new PSVariable("_", scope)], scope);
            }
            catch (RuntimeException e) when (ClientError(e) is { } inner)
            {
                // Step 2: a failed read (KeyIsLocked, Unavailable...) reaches here wrapped in
                // PowerShell's MethodInvocationException; report the client's own error.
                ThrowTerminatingError(KvErrors.From(inner, null));
                return;
            }

            // Step 3.
            Kv.Client.Timestamp commitTs;
            if (scope.Writes.Count == 0)
            {
                commitTs = Await(txn.CommitAsync(StopToken));
            }
            else if (ShouldProcess($"transaction at start_ts {txn.StartTs.Value}", $"Commit {scope.Writes.Count} write(s): {string.Join(", ", scope.Writes)}"))
            {
                commitTs = Await(txn.CommitAsync(StopToken));
            }
            else
            {
                return;
            }

            // Step 4.
            WriteObject(output, enumerateCollection: true);
            if (PassThru)
            {
                WriteObject(new KvTransactionResult(txn.StartTs, commitTs, scope.Writes.ToList()));
            }
        }
        finally
        {
            // Rolls back (discards the buffered writes) unless committed.
            txn.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// The client's exception behind a scriptblock's failure: a method of the scope that failed
    /// (MethodInvocationException, with it inside), or one a nested call threw as it is (the
    /// exception of the error record). Null for the script's own errors, which pass through.
    /// </summary>
    private static Exception? ClientError(RuntimeException e)
    {
        for (Exception? inner = e.InnerException ?? e.ErrorRecord?.Exception; inner is not null; inner = inner.InnerException)
        {
            if (inner is KvException or ArgumentException)
            {
                return inner;
            }
        }

        return null;
    }
}
