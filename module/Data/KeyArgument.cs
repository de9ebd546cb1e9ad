using System.Management.Automation;
using System.Text;
using Kv.PowerShell.Connection;

namespace Kv.PowerShell.Data;

/// <summary>Keys and values as the user typed them (UTF-8 text, or hex with -Hex), checked before any call.</summary>
internal static class KeyArgument
{
    /// <summary>text as bytes; a terminating InvalidKey error (InvalidArgument) when it is not valid hex, or empty where a key is needed.</summary>
    public static byte[] Parse(Cmdlet cmdlet, string text, bool hex, string parameter, bool allowEmpty = false)
    {
        byte[] bytes;
        if (hex)
        {
            var digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
            try
            {
                bytes = Convert.FromHexString(digits);
            }
            catch (FormatException)
            {
                cmdlet.ThrowTerminatingError(KvErrors.Invalid(parameter == "-Value" ? "InvalidValue" : "InvalidKey",
                    $"{parameter} '{text}' is not hex: with -Hex give an even number of 0-9 a-f digits, optionally after 0x", text));
                return [];
            }
        }
        else
        {
            bytes = Encoding.UTF8.GetBytes(text);
        }

        if (bytes.Length == 0 && !allowEmpty)
        {
            cmdlet.ThrowTerminatingError(KvErrors.Invalid("InvalidKey", $"{parameter} is empty: a key needs at least one byte", text));
        }

        return bytes;
    }
}
