using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kv.Client.Views;

/// <summary>
/// The one JSON shape of the views, which kvctl <c>-o json</c>, the module and the operator all
/// print (docs/CLI.md, "The JSON contract"): camelCase names; enums as camelCase strings; ids as
/// numbers (operation ids as strings); TSO timestamps as numbers (the packed 64-bit value); times as UTC ISO 8601 with milliseconds
/// ("2026-12-05T19:01:21.123Z"); durations as seconds (a number); null fields left out.
/// </summary>
public static class ViewJson
{
    /// <summary>The options of the contract; shared, do not mutate.</summary>
    public static JsonSerializerOptions Options { get; } = Create(indented: true);

    /// <summary>The same contract on one line (logs, events).</summary>
    public static JsonSerializerOptions Compact { get; } = Create(indented: false);

    public static string Serialize<T>(T view, bool indented = true) => JsonSerializer.Serialize(view, indented ? Options : Compact);

    private static JsonSerializerOptions Create(bool indented)
    {
        var options = new JsonSerializerOptions
        {
            WriteIndented = indented,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DictionaryKeyPolicy = null, // labels keep their names
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,

            // Printed to terminals and files, never embedded in HTML: "range 7's" stays readable.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            Converters =
            {
                new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false),
                new NumberIdConverter<StoreId>(v => v.Value, v => new StoreId(v)),
                new NumberIdConverter<RangeId>(v => v.Value, v => new RangeId(v)),
                new NumberIdConverter<ReplicaId>(v => v.Value, v => new ReplicaId(v)),
                new NumberIdConverter<NodeId>(v => v.Value, v => new NodeId(v)),
                new NumberIdConverter<Timestamp>(v => v.Value, v => new Timestamp(v)),
                new OperationIdConverter(),
                new UtcTimeConverter(),
                new SecondsConverter(),
            },
        };
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    private sealed class NumberIdConverter<T>(Func<T, ulong> value, Func<ulong, T> make) : JsonConverter<T>
    {
        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => make(reader.GetUInt64());

        public override void Write(Utf8JsonWriter writer, T id, JsonSerializerOptions options) => writer.WriteNumberValue(value(id));
    }

    private sealed class OperationIdConverter : JsonConverter<OperationId>
    {
        public override OperationId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            OperationId.Unchecked(reader.GetString());

        public override void Write(Utf8JsonWriter writer, OperationId id, JsonSerializerOptions options) => writer.WriteStringValue(id.Value);
    }

    private sealed class UtcTimeConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            DateTimeOffset.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
    }

    private sealed class SecondsConverter : JsonConverter<TimeSpan>
    {
        public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => TimeSpan.FromSeconds(reader.GetDouble());

        public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options) => writer.WriteNumberValue(Math.Round(value.TotalSeconds, 3));
    }
}
