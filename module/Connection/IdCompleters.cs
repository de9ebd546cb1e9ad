using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace Kv.PowerShell.Connection;

/// <summary>
/// Tab completion of ids from the session's cluster (Connect-KvCluster). Completion must never
/// get in the way: without a connection, or when the cluster does not answer within
/// <see cref="Budget"/>, it offers nothing and reports nothing.
/// </summary>
public abstract class KvIdCompleter : IArgumentCompleter
{
    /// <summary>How long a completion may wait for the cluster: a user pressing Tab waits for it.</summary>
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(3);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var connection = KvSession.Current;
        if (connection is null)
        {
            return [];
        }

        try
        {
            using var budget = new CancellationTokenSource(Budget);
            var prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
            return Candidates(connection, budget.Token).GetAwaiter().GetResult()
                .Where(c => c.Id.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                .Select(c => new CompletionResult(c.Id, c.Id, CompletionResultType.ParameterValue, c.Tip))
                .ToList();
        }
#pragma warning disable CA1031 // Any failure (unreachable cluster, timeout, refusal) means no suggestions, by design.
        catch (Exception)
#pragma warning restore CA1031
        {
            return [];
        }
    }

    /// <summary>The ids to offer, each with a tooltip.</summary>
    private protected abstract Task<IEnumerable<(string Id, string Tip)>> Candidates(KvConnection connection, CancellationToken ct);
}

/// <summary>Store ids (tooltip: address, admin state, liveness).</summary>
public sealed class StoreIdCompleter : KvIdCompleter
{
    private protected override async Task<IEnumerable<(string Id, string Tip)>> Candidates(KvConnection connection, CancellationToken ct) =>
        (await connection.Admin.ListStoreStatusAsync(ct).ConfigureAwait(false))
            .Select(s => (s.Id.Value.ToString(CultureInfo.InvariantCulture), $"store {s.Id.Value} {s.Address} {s.AdminState} {s.Liveness}"));
}

/// <summary>Range ids (tooltip: the key span).</summary>
public sealed class RangeIdCompleter : KvIdCompleter
{
    private protected override async Task<IEnumerable<(string Id, string Tip)>> Candidates(KvConnection connection, CancellationToken ct) =>
        (await connection.Data.ListRangesAsync(ct).ConfigureAwait(false))
            .Where(r => r.Range is not null)
            .Select(r => Kv.Client.Views.RangeView.From(r))
            .Select(r => (r.Id.Value.ToString(CultureInfo.InvariantCulture), $"range {r.Id.Value} [{r.StartKey}, {(r.EndKey is { Length: > 0 } e ? e : "end")})"));
}

/// <summary>Operation ids, newest first (tooltip: kind and state).</summary>
public sealed class OperationIdCompleter : KvIdCompleter
{
    private protected override async Task<IEnumerable<(string Id, string Tip)>> Candidates(KvConnection connection, CancellationToken ct) =>
        (await connection.Admin.ListAsync(null, 100, null, ct).ConfigureAwait(false))
            .Select(o => (o.Id.Value, $"{o.Spec.Kind} {o.State}"));
}
