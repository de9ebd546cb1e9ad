using System.Collections;

namespace Kv.Client.Rpc;

/// <summary>
/// Custom headers or trailers of a call: an ordered list of key/value entries. Keys are
/// lowercase ASCII (<c>0-9 a-z - _ .</c>); keys ending in <c>-bin</c> carry bytes (base64 on
/// the wire), all others carry printable ASCII strings. Keys starting with <c>grpc-</c> are
/// reserved for the protocol and refused here.
/// </summary>
public sealed class Metadata : IReadOnlyList<Metadata.Entry>
{
    /// <summary>Suffix of keys whose values are binary.</summary>
    public const string BinarySuffix = "-bin";

    private readonly List<Entry> _entries = [];

    public int Count => _entries.Count;

    public Entry this[int index] => _entries[index];

    /// <summary>Adds an ASCII-valued entry.</summary>
    public void Add(string key, string value) => _entries.Add(new Entry(key, value));

    /// <summary>Adds a binary entry; <paramref name="key"/> must end in <c>-bin</c>.</summary>
    public void Add(string key, byte[] value) => _entries.Add(new Entry(key, value));

    public void Add(Entry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        _entries.Add(entry);
    }

    /// <summary>The first string value for <paramref name="key"/>, or null.</summary>
    public string? GetValue(string key)
    {
        foreach (var e in _entries)
        {
            if (!e.IsBinary && string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase))
            {
                return e.Value;
            }
        }

        return null;
    }

    /// <summary>The first binary value for <paramref name="key"/>, or null.</summary>
    public byte[]? GetValueBytes(string key)
    {
        foreach (var e in _entries)
        {
            if (e.IsBinary && string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase))
            {
                return e.ValueBytes;
            }
        }

        return null;
    }

    public IEnumerator<Entry> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>True when <paramref name="key"/> names a binary entry.</summary>
    public static bool IsBinaryKey(string key) => key.EndsWith(BinarySuffix, StringComparison.OrdinalIgnoreCase);

    /// <summary>One key with either a string or a binary value.</summary>
    public sealed class Entry
    {
        private readonly string? _value;
        private readonly byte[]? _bytes;

        public Entry(string key, string value)
        {
            Key = ValidateKey(key);
            ArgumentNullException.ThrowIfNull(value);
            if (IsBinaryKey(Key))
            {
                throw new ArgumentException($"metadata key '{key}' ends in '-bin' and needs a byte[] value", nameof(key));
            }

            foreach (var c in value)
            {
                if (c < 0x20 || c > 0x7E)
                {
                    throw new ArgumentException($"metadata value for '{key}' must be printable ASCII; use a '-bin' key for other data", nameof(value));
                }
            }

            _value = value;
        }

        public Entry(string key, byte[] value)
        {
            Key = ValidateKey(key);
            ArgumentNullException.ThrowIfNull(value);
            if (!IsBinaryKey(Key))
            {
                throw new ArgumentException($"metadata key '{key}' must end in '-bin' to carry a byte[] value", nameof(key));
            }

            _bytes = value;
        }

        /// <summary>Lowercase key.</summary>
        public string Key { get; }

        public bool IsBinary => _bytes is not null;

        /// <summary>The string value; for a binary entry, its base64 form as sent on the wire.</summary>
        public string Value => _value ?? Convert.ToBase64String(_bytes!);

        /// <summary>The bytes of a binary entry (or the ASCII bytes of a string entry).</summary>
        public byte[] ValueBytes => _bytes ?? System.Text.Encoding.ASCII.GetBytes(_value!);

        public override string ToString() => $"{Key}: {Value}";

        private static string ValidateKey(string key)
        {
            ArgumentException.ThrowIfNullOrEmpty(key);
            var lower = key.ToLowerInvariant();
            foreach (var c in lower)
            {
                if (!(c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.'))
                {
                    throw new ArgumentException($"metadata key '{key}' may only contain 0-9 a-z - _ .", nameof(key));
                }
            }

            if (lower.StartsWith("grpc-", StringComparison.Ordinal))
            {
                throw new ArgumentException($"metadata key '{key}' is reserved for the gRPC protocol", nameof(key));
            }

            return lower;
        }
    }
}
