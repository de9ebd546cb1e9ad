namespace Kv.Client.Views;

/// <summary>The proto's conventions for times and optional ids, as the views state them: 0 means "none".</summary>
internal static class ViewTime
{
    /// <summary>Unix ms as a UTC time; null for 0 (the proto's "none").</summary>
    public static DateTimeOffset? FromUnixMs(long unixMs) => unixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(unixMs) : null;

    public static string? NonEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    public static StoreId? Store(ulong id) => id == 0 ? null : new StoreId(id);

    public static RangeId? Range(ulong id) => id == 0 ? null : new RangeId(id);
}
