using System.Text;
using Google.Protobuf;

namespace Kv.Cli.Commands;

/// <summary>
/// Keys and values as text: arguments are UTF-8 (or hex with <c>--hex</c>); output shows bytes
/// as UTF-8 when they are valid, printable UTF-8, else as <c>0x</c> followed by lowercase hex.
/// </summary>
internal static class KeyText
{
    /// <summary>The views' rule (Kv.Client.Views.KeyFormat), so kvctl and the views print a key alike.</summary>
    public static string Printable(ReadOnlySpan<byte> bytes) => Kv.Client.Views.KeyFormat.Printable(bytes);

    public static string Printable(ByteString bytes) => Printable(bytes.Span);

    public static string Hex(ReadOnlySpan<byte> bytes) => "0x" + Convert.ToHexStringLower(bytes);

    /// <summary>An argument as bytes: UTF-8, or hex (an optional 0x prefix) when hex is set. Null with an error message when it is not valid hex.</summary>
    public static byte[]? Parse(string text, bool hex, string what, out string? error)
    {
        error = null;
        if (!hex)
        {
            return Encoding.UTF8.GetBytes(text);
        }

        var digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        try
        {
            return Convert.FromHexString(digits);
        }
        catch (FormatException)
        {
            error = $"{what} '{text}' is not hex (an even number of digits 0-9a-f, optionally prefixed 0x); drop --hex to pass UTF-8 text";
            return null;
        }
    }
}
