using System.Collections.Immutable;
using System.Text;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Gc;

/// <summary>
/// How <see cref="GcState"/> is kept in the Meta column family, under placement's key scheme
/// ('p' + kind byte; see <see cref="PlacementState"/>). Values start with the version byte (1),
/// then the protobuf message.
///   kind 0x60                      GcSafePointRecord (absent: safe point 0)
///   kind 0x61 + len + name         ServiceSafePointRecord; len is one byte (names are 1 to 128 ASCII characters)
/// </summary>
internal static class GcRecords
{
    internal const byte KindSafePoint = 0x60;
    internal const byte KindService = 0x61;

    internal static byte[] SafePointKey() => PlacementState.Key(KindSafePoint);

    internal static byte[] ServiceKey(string name)
    {
        var key = new byte[3 + name.Length];
        key[0] = PlacementState.Prefix;
        key[1] = KindService;
        key[2] = checked((byte)name.Length);
        Encoding.ASCII.GetBytes(name, key.AsSpan(3));
        return key;
    }

    /// <summary>Collects the GC records during <see cref="PlacementState.Load"/>.</summary>
    internal sealed class Loader
    {
        private readonly ImmutableSortedDictionary<string, ServiceSafePointRecord>.Builder _services =
            ImmutableSortedDictionary.CreateBuilder<string, ServiceSafePointRecord>(StringComparer.Ordinal);

        private GcSafePointRecord? _safePoint;

        /// <summary>Takes the record when its kind is one of this file's; false when it is not. Throws <see cref="InvalidDataException"/> when it is but does not decode.</summary>
        public bool TryLoad(byte[] key, ReadOnlySpan<byte> body)
        {
            switch (key[1])
            {
                case KindSafePoint when key.Length == 2:
                    _safePoint = GcSafePointRecord.Parser.ParseFrom(body);
                    return true;
                case KindService:
                    var service = ServiceSafePointRecord.Parser.ParseFrom(body);
                    if (key.Length < 3 || key.Length != 3 + key[2] || GcRules.CheckName(service.Name) is not null
                        || !string.Equals(Encoding.ASCII.GetString(key, 3, key[2]), service.Name, StringComparison.Ordinal))
                    {
                        throw new InvalidDataException($"the key does not name service safe point '{service.Name}'");
                    }

                    _services[service.Name] = service;
                    return true;
                default:
                    return false;
            }
        }

        public GcState Build() => new(_safePoint, _services.ToImmutable());
    }
}
