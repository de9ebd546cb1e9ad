using Google.Protobuf;

namespace Kv.Client.Rpc;

/// <summary>Factories for marshallers of generated protobuf messages.</summary>
public static class Marshallers
{
    /// <summary>A marshaller for a protobuf message type, from its generated <c>Parser</c>.</summary>
    public static Marshaller<T> Create<T>(MessageParser<T> parser)
        where T : IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(parser);
        return new Marshaller<T>(
            static m => m.CalculateSize(),
            static (m, writer) => m.WriteTo(writer),
            parser.ParseFrom,
            // Protobuf checks that the span is filled exactly, as our contract requires.
            static (m, span) => m.WriteTo(span),
            parser.ParseFrom);
    }
}
