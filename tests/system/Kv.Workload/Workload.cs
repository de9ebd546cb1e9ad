using System.Text.Json.Nodes;

namespace Kv.Workload;

/// <summary>How long and how hard a workload runs.</summary>
public sealed record WorkloadOptions
{
    public int Clients { get; init; } = 4;

    /// <summary>Stop after this long (null: only OpsPerClient bounds the run).</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Stop each client after this many operations (null: only Duration bounds the run).</summary>
    public int? OpsPerClient { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>Process names are "{ProcessPrefix}-{client}"; unique across workload processes.</summary>
    public string ProcessPrefix { get; init; } = "w" + Environment.ProcessId;

    /// <summary>Each operation's deadline; a commit that times out is recorded as info.</summary>
    public TimeSpan OpTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public int Accounts { get; init; } = 8;

    public long Initial { get; init; } = 100;

    public int Keys { get; init; } = 8;
}

/// <summary>Runs transactions and records each as invoke + ok|fail|info.</summary>
public abstract class Workload
{
    protected Workload(ITxnStore store, HistoryWriter history, WorkloadOptions options)
    {
        Store = store;
        History = history;
        Options = options;
    }

    protected ITxnStore Store { get; }

    protected HistoryWriter History { get; }

    protected WorkloadOptions Options { get; }

    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        await SetupAsync(cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (Options.Duration is { } d)
        {
            stop.CancelAfter(d);
        }
        var clients = Enumerable.Range(0, Options.Clients).Select(i => Task.Run(async () =>
        {
            var process = $"{Options.ProcessPrefix}-{i}";
            var random = new Random(HashCode.Combine(Options.Seed, i));
            for (var n = 0; (Options.OpsPerClient is not { } max || n < max) && !stop.IsCancellationRequested; n++)
            {
                await OneAsync(process, random, n, stop.Token);
            }
        }, CancellationToken.None)).ToList();
        await Task.WhenAll(clients);
        await FinishAsync($"{Options.ProcessPrefix}-final", cancellationToken);
    }

    protected virtual Task SetupAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    protected virtual Task FinishAsync(string process, CancellationToken cancellationToken) => Task.CompletedTask;

    protected abstract Task OneAsync(string process, Random random, int n, CancellationToken cancellationToken);

    /// <summary>Runs body in a transaction and records it. body returns the completion value; it
    /// must not commit. A failure before commit is fail; a commit with an unknown outcome (or a
    /// timeout or unexpected error after the commit was sent) is info.</summary>
    protected async Task<bool> RecordAsync(
        string process, string f, JsonNode? invokeValue, Func<ITxn, CancellationToken, Task<JsonNode?>> body, bool readOnly)
    {
        History.Write(new HistoryOp(process, "invoke", f, invokeValue, HistoryWriter.Now()));
        using var timeout = new CancellationTokenSource(Options.OpTimeout);
        var ct = timeout.Token;
        var committing = false;
        ulong? startTs = null;
        HistoryOp completion;
        try
        {
            var txn = await Store.BeginAsync(ct);
            try
            {
                startTs = txn.StartTs;
                var value = await body(txn, ct);
                committing = true;
                var commitTs = await txn.CommitAsync(ct);
                completion = new HistoryOp(process, "ok", f, value, HistoryWriter.Now(), startTs, readOnly ? null : commitTs);
            }
            finally
            {
                try
                {
                    await txn.DisposeAsync();
                }
                catch (Exception ex) when (ex is TxnStoreException or OperationCanceledException or TimeoutException)
                {
                    // Rollback of a finished or failed transaction is best effort.
                }
            }
        }
        catch (TxnStoreException ex) when (!committing || ex.Failure == TxnFailure.Definite)
        {
            completion = new HistoryOp(process, "fail", f, null, HistoryWriter.Now(), startTs, Error: ex.Message);
        }
        catch (Exception ex) when (!committing)
        {
            completion = new HistoryOp(process, "fail", f, null, HistoryWriter.Now(), startTs, Error: ex.GetType().Name + ": " + ex.Message);
        }
        catch (Exception ex)
        {
            // After the commit was sent: timeout, unknown outcome or an unexpected error.
            completion = new HistoryOp(process, "info", f, null, HistoryWriter.Now(), startTs, Error: ex.GetType().Name + ": " + ex.Message);
        }
        History.Write(completion);
        return completion.Type == "ok";
    }
}
