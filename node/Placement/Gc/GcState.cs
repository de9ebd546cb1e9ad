using System.Collections.Immutable;
using System.Diagnostics;
using Kv.Client;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Gc;

/// <summary>
/// The GC part of placement's replicated state (shared/DESIGN.md sections 6 and 7): the GC safe
/// point and the service safe points. Immutable, like the <see cref="PlacementSnapshot"/> that
/// holds it; the messages it holds are never mutated.
/// </summary>
internal sealed record GcState(GcSafePointRecord? SafePointRecord, ImmutableSortedDictionary<string, ServiceSafePointRecord> Services)
{
    internal static readonly GcState Empty = new(null, ImmutableSortedDictionary.Create<string, ServiceSafePointRecord>(StringComparer.Ordinal));

    /// <summary>Versions not visible at this timestamp may be dropped; reads below it are refused. Zero: nothing was collected.</summary>
    public Timestamp SafePoint => new(SafePointRecord?.SafePoint ?? 0);

    /// <summary>Whether <paramref name="service"/> still pins its timestamp at <paramref name="nowMs"/> (the caller's clock).</summary>
    public static bool IsLive(ServiceSafePointRecord service, long nowMs) => ExpiresMs(service) > nowMs;

    /// <summary>When the service safe point stops pinning unless renewed, as an operator reads it (UTC, ISO 8601).</summary>
    public static string Expires(ServiceSafePointRecord service)
    {
        long ms = ExpiresMs(service);
        return ms >= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds() ? "never"
            : DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Unix ms the service safe point stops pinning unless renewed.</summary>
    public static long ExpiresMs(ServiceSafePointRecord service) =>
        service.LastRenewalMs > long.MaxValue - service.TtlMs ? long.MaxValue : service.LastRenewalMs + service.TtlMs;

    /// <summary>The live service safe point with the lowest ts at <paramref name="nowMs"/> (ties: by name), or null.</summary>
    public ServiceSafePointRecord? LowestLive(long nowMs)
    {
        ServiceSafePointRecord? lowest = null;
        foreach (var service in Services.Values)
        {
            if (IsLive(service, nowMs) && (lowest is null || service.Ts < lowest.Ts))
            {
                lowest = service;
            }
        }

        return lowest;
    }

    [Conditional("DEBUG")]
    internal void AssertInvariants()
    {
        foreach (var (name, service) in Services)
        {
            Debug.Assert(service.Name == name, $"service safe point {name} is indexed by its name");
            Debug.Assert(service.TtlMs > 0, $"service safe point {name} has a TTL");
        }
    }
}
