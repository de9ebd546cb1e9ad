using System.Text.Json.Serialization;
using Kv.Proto.V1;

namespace Kv.Client.Views;

/// <summary>Cluster-wide settings placement keeps: the replication factor the scheduler maintains, whether the scheduler is paused, and the last change.</summary>
public sealed record ClusterSettingsView(uint ReplicationFactor, bool SchedulerPaused, string? UpdatedBy, string? Reason, DateTimeOffset? Updated) : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;

    [JsonPropertyOrder(-1)]
    public string Kind => "ClusterSettings";

    public static ClusterSettingsView From(ClusterSettings? settings)
    {
        settings ??= new ClusterSettings();
        return new ClusterSettingsView(settings.ReplicationFactor, settings.SchedulerPaused, ViewTime.NonEmpty(settings.UpdatedBy),
            ViewTime.NonEmpty(settings.Reason), ViewTime.FromUnixMs(settings.UpdatedMs));
    }
}
