using System.Net.Http.Headers;

namespace Kv.Client.Rpc.Http;

/// <summary>Converts between <see cref="Metadata"/> and HTTP headers.</summary>
internal static class HttpMetadata
{
    /// <summary>Adds call metadata to request headers (binary values in base64).</summary>
    public static void AddTo(HttpRequestHeaders headers, Metadata metadata)
    {
        foreach (var entry in metadata)
        {
            headers.TryAddWithoutValidation(entry.Key, entry.Value);
        }
    }

    /// <summary>
    /// Custom metadata among response headers or trailers: everything but the protocol's own
    /// headers. Binary values that are not valid base64 are dropped rather than failing the call.
    /// </summary>
    public static Metadata From(HttpHeaders headers) => FromOrNull(headers) ?? new Metadata();

    /// <summary>As <see cref="From"/>, but null when there is no custom metadata (the usual case: no allocation).</summary>
    public static Metadata? FromOrNull(HttpHeaders headers)
    {
        Metadata? metadata = null;
        foreach (var header in headers.NonValidated)
        {
            var key = header.Key.ToLowerInvariant();
            if (IsReserved(key))
            {
                continue;
            }

            metadata ??= new Metadata();

            foreach (var value in header.Value)
            {
                try
                {
                    metadata.Add(Metadata.IsBinaryKey(key) ? new Metadata.Entry(key, DecodeBase64(value)) : new Metadata.Entry(key, value));
                }
                catch (FormatException)
                {
                    // Malformed base64 from the peer: drop the entry.
                }
                catch (ArgumentException)
                {
                    // A key or value our Metadata refuses (for example non-ASCII): drop the entry.
                }
            }
        }

        return metadata;
    }

    private static bool IsReserved(string key) =>
        key.StartsWith("grpc-", StringComparison.Ordinal) || key.StartsWith(':') ||
        key is "content-type" or "te" or "content-length" or "user-agent" or "date" or "server";

    /// <summary>gRPC peers may omit base64 padding; accept both forms.</summary>
    private static byte[] DecodeBase64(string value)
    {
        var padding = (4 - (value.Length % 4)) % 4;
        return Convert.FromBase64String(padding == 0 ? value : value + new string('=', padding));
    }
}
