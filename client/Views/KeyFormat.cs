using System.Globalization;
using System.Text;

namespace Kv.Client.Views;

/// <summary>
/// How views print keys: the UTF-8 text when it is printable (no control, format, surrogate,
/// private-use or unassigned characters, and not starting \"0x\"), else "0x" and lowercase hex. kvctl's KeyText uses it.
/// </summary>
public static class KeyFormat
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Printable(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return string.Empty;
        }

        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return Hex(bytes);
        }

        foreach (var rune in text.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned)
            {
                return Hex(bytes);
            }
        }

        // Text that itself looks like hex output would be ambiguous.
        return text.StartsWith("0x", StringComparison.Ordinal) ? Hex(bytes) : text;
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => "0x" + Convert.ToHexStringLower(bytes);
}
