namespace Kv.Client;

// Identifiers are distinct types so that a StoreId can never be passed where a RangeId is meant
// (STYLE.md "Ours"). Zero is "none" for every kind: real ids are allocated from 1.

/// <summary>A kv-node process. One node hosts one store.</summary>
public readonly record struct NodeId(ulong Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A store: one RocksDB instance on one node.</summary>
public readonly record struct StoreId(ulong Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A range of the key space, replicated by one Raft group.</summary>
public readonly record struct RangeId(ulong Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>One member of a range's Raft group; unique cluster-wide, never reused.</summary>
public readonly record struct ReplicaId(ulong Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// An operation's id: [A-Za-z0-9._-], 1 to 128 characters (operations.proto). Chosen by the
/// client before the first submit, so that a retried submit names the same operation and placement
/// answers with the existing record instead of starting a second one.
/// </summary>
public readonly record struct OperationId
{
    public const int MaxLength = 128;

    private OperationId(string value) => Value = value;

    public string Value { get; }

    /// <summary>A fresh id: "op-" + UTC time to the second + 8 random hex digits (sortable by creation, unique in practice).</summary>
    public static OperationId New() =>
        new("op-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture) + "-"
            + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)));

    /// <summary>Accepts an id the user typed; false with a message saying what is wrong.</summary>
    public static bool TryParse(string? text, out OperationId id, out string? error)
    {
        id = default;
        if (string.IsNullOrEmpty(text) || text.Length > MaxLength)
        {
            error = $"operation id '{text}' must be 1 to {MaxLength} characters of A-Z, a-z, 0-9, '.', '_' or '-'";
            return false;
        }

        foreach (var c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                error = $"operation id '{text}' has '{c}'; use only A-Z, a-z, 0-9, '.', '_' or '-' (at most {MaxLength} characters)";
                return false;
            }
        }

        id = new OperationId(text);
        error = null;
        return true;
    }

    /// <summary>An id as a server sent it, unchecked (views show what placement recorded).</summary>
    internal static OperationId Unchecked(string? value) => new(value ?? string.Empty);

    /// <summary>Parses or throws ArgumentException with the reason.</summary>
    public static OperationId Parse(string text) =>
        TryParse(text, out var id, out var error) ? id : throw new ArgumentException(error, nameof(text));

    public override string ToString() => Value ?? string.Empty;
}
