using System.Text.Json.Serialization;
using Kv.Proto.V1;

namespace Kv.Client.Views;

/// <summary>
/// One audit log entry: who did what to what, the range epochs before and after, why, and the
/// outcome. OperationId and OperationKind are null for settings changes.
/// </summary>
public sealed record AuditEntryView(
    ulong Seq, DateTimeOffset? At, string Who, AuditActionView Action, OperationId? OperationId, OperationKindView? OperationKind,
    string What, RangeId? RangeId, EpochView? EpochBefore, EpochView? EpochAfter, string? Reason, string? Outcome) : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;

    [JsonPropertyOrder(-1)]
    public string Kind => "AuditEntry";

    public static AuditEntryView From(AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        OperationId? id = entry.OperationId.Length == 0 ? null
            : Client.OperationId.TryParse(entry.OperationId, out var parsed, out _) ? parsed : Client.OperationId.Unchecked(entry.OperationId);
        return new AuditEntryView(
            entry.Seq, ViewTime.FromUnixMs(entry.AtMs), string.IsNullOrEmpty(entry.Who) ? "unknown" : entry.Who, ViewEnums.From(entry.Action),
            id, entry.Kind == Proto.V1.OperationKind.Unspecified ? null : ViewEnums.From(entry.Kind), entry.What, ViewTime.Range(entry.RangeId),
            EpochView.From(entry.EpochBefore), EpochView.From(entry.EpochAfter), ViewTime.NonEmpty(entry.Reason), ViewTime.NonEmpty(entry.Outcome));
    }
}
