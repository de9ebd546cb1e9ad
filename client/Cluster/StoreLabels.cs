using System.Collections.ObjectModel;

namespace Kv.Client.Cluster;

/// <summary>
/// Store labels: where a store sits (<c>zone=a,host=h1</c>), given at <c>kv-node serve --labels</c>
/// and kept by placement in StoreDescriptor.labels, so that no two voters of a range share a
/// failure domain. One set of rules for every face (kv-node's flag and config file, kvctl,
/// placement's check of what a store sends):
///   - at most <see cref="MaxLabels"/> labels, each key given once;
///   - a key and a value are 1 to <see cref="MaxLength"/> characters of ASCII letters, digits,
///     '-', '_' and '.', starting and ending with a letter or digit (Kubernetes label syntax,
///     without the prefix/ part; an empty value is refused: a failure domain needs a name).
/// Keys compare ordinally (case-sensitive), as the protobuf map does.
/// </summary>
public static class StoreLabels
{
    public const int MaxLabels = 16;
    public const int MaxLength = 63;

    /// <summary>No labels.</summary>
    public static IReadOnlyDictionary<string, string> None { get; } = new ReadOnlyDictionary<string, string>(new Dictionary<string, string>());

    /// <summary>
    /// Parses <c>key=value[,key=value...]</c> (spaces around items are ignored; an empty text is no
    /// labels). Null error and the labels when valid; otherwise null labels and what is wrong.
    /// </summary>
    public static (IReadOnlyDictionary<string, string>? Labels, string? Error) Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return (None, null);
        }

        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split(','))
        {
            var item = raw.Trim();
            if (item.Length == 0)
            {
                return (null, $"labels '{text}' have an empty item; write key=value pairs separated by single commas, e.g. zone=a,host=h1");
            }

            var eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                return (null, $"label '{item}' has no '='; write key=value, e.g. zone=a");
            }

            var key = item[..eq].Trim();
            var value = item[(eq + 1)..].Trim();
            if (Check(key, value) is { } error)
            {
                return (null, error);
            }

            if (!labels.TryAdd(key, value))
            {
                return (null, $"label key '{key}' is given twice (values '{labels[key]}' and '{value}'); give each key once");
            }
        }

        if (labels.Count > MaxLabels)
        {
            return (null, $"{labels.Count} labels given; a store takes at most {MaxLabels}");
        }

        return (new ReadOnlyDictionary<string, string>(labels), null);
    }

    /// <summary>Null when every pair is a valid label and there are at most <see cref="MaxLabels"/>; otherwise what is wrong.</summary>
    public static string? Check(IEnumerable<KeyValuePair<string, string>> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var count = 0;
        foreach (var (key, value) in labels)
        {
            if (Check(key, value) is { } error)
            {
                return error;
            }

            count++;
        }

        return count > MaxLabels ? $"{count} labels given; a store takes at most {MaxLabels}" : null;
    }

    /// <summary>Null when key=value is a valid label; otherwise what is wrong and how to write it.</summary>
    public static string? Check(string? key, string? value)
    {
        if (WhyNotToken(key) is { } keyProblem)
        {
            return $"label key '{key}' {keyProblem}";
        }

        if (WhyNotToken(value) is { } valueProblem)
        {
            return $"label {key}: value '{value}' {valueProblem}";
        }

        return null;
    }

    /// <summary><c>key=value,...</c> sorted by key (empty for none): how labels are shown and passed on a command line.</summary>
    public static string Format(IEnumerable<KeyValuePair<string, string>> labels) =>
        string.Join(',', labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));

    private static string? WhyNotToken(string? s)
    {
        if (string.IsNullOrEmpty(s))
        {
            return "is empty; keys and values need 1 to 63 characters";
        }

        if (s.Length > MaxLength)
        {
            return $"is {s.Length} characters long; at most {MaxLength} are allowed";
        }

        foreach (var c in s)
        {
            if (!IsAlphanumeric(c) && c is not ('-' or '_' or '.'))
            {
                return $"has '{c}'; use ASCII letters, digits, '-', '_' and '.'";
            }
        }

        if (!IsAlphanumeric(s[0]) || !IsAlphanumeric(s[^1]))
        {
            return "must start and end with a letter or digit";
        }

        return null;
    }

    private static bool IsAlphanumeric(char c) => char.IsAsciiLetterOrDigit(c);
}
