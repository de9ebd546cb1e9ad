using System.Buffers;

namespace Kv.Client.Rpc;

/// <summary>Writes a message into a span of exactly its serialized size.</summary>
public delegate void SpanSerializer<in T>(T message, Span<byte> destination);

/// <summary>Parses one whole message from contiguous bytes; throws on malformed input.</summary>
public delegate T SpanDeserializer<out T>(ReadOnlySpan<byte> payload);

/// <summary>
/// Turns messages of one type into bytes and back. Serialization is size-first so the
/// transport can write the 5-byte length prefix and check message limits before any bytes
/// of the message are produced; deserialization reads from a (possibly segmented) sequence so
/// the server can parse straight from Kestrel's buffers without copying.
/// A marshaller may also have span forms of both (protobuf's do): the transports use them for
/// the common case of a message in one contiguous buffer, which is cheaper than going through
/// <see cref="IBufferWriter{T}"/> or <see cref="ReadOnlySequence{T}"/>.
/// </summary>
public sealed class Marshaller<T>
{
    private readonly Func<T, int> _computeSize;
    private readonly Action<T, IBufferWriter<byte>> _serializer;
    private readonly Func<ReadOnlySequence<byte>, T> _deserializer;
    private readonly SpanSerializer<T>? _spanSerializer;
    private readonly SpanDeserializer<T>? _spanDeserializer;

    /// <param name="computeSize">Exact serialized size of a message.</param>
    /// <param name="serializer">Writes exactly <paramref name="computeSize"/> bytes of the message.</param>
    /// <param name="deserializer">Parses one whole message; throws on malformed input.</param>
    public Marshaller(Func<T, int> computeSize, Action<T, IBufferWriter<byte>> serializer, Func<ReadOnlySequence<byte>, T> deserializer)
        : this(computeSize, serializer, deserializer, spanSerializer: null, spanDeserializer: null)
    {
    }

    /// <param name="computeSize">Exact serialized size of a message.</param>
    /// <param name="serializer">Writes exactly <paramref name="computeSize"/> bytes of the message.</param>
    /// <param name="deserializer">Parses one whole message; throws on malformed input.</param>
    /// <param name="spanSerializer">Optional: the same as <paramref name="serializer"/> into a span of exactly the computed size.</param>
    /// <param name="spanDeserializer">Optional: the same as <paramref name="deserializer"/> from contiguous bytes.</param>
    public Marshaller(
        Func<T, int> computeSize,
        Action<T, IBufferWriter<byte>> serializer,
        Func<ReadOnlySequence<byte>, T> deserializer,
        SpanSerializer<T>? spanSerializer,
        SpanDeserializer<T>? spanDeserializer)
    {
        ArgumentNullException.ThrowIfNull(computeSize);
        ArgumentNullException.ThrowIfNull(serializer);
        ArgumentNullException.ThrowIfNull(deserializer);
        _computeSize = computeSize;
        _serializer = serializer;
        _deserializer = deserializer;
        _spanSerializer = spanSerializer;
        _spanDeserializer = spanDeserializer;
    }

    /// <summary>True when <see cref="TrySerialize"/> can write into a span.</summary>
    public bool CanSerializeToSpan => _spanSerializer is not null;

    public int ComputeSize(T message) => _computeSize(message);

    public void Serialize(T message, IBufferWriter<byte> destination) => _serializer(message, destination);

    /// <summary>
    /// Writes the message into <paramref name="destination"/>, which must be exactly
    /// <see cref="ComputeSize"/> bytes long. False (nothing written) when this marshaller has
    /// no span serializer.
    /// </summary>
    public bool TrySerialize(T message, Span<byte> destination)
    {
        if (_spanSerializer is null)
        {
            return false;
        }

        _spanSerializer(message, destination);
        return true;
    }

    public T Deserialize(ReadOnlySequence<byte> payload) =>
        _spanDeserializer is not null && payload.IsSingleSegment ? _spanDeserializer(payload.FirstSpan) : _deserializer(payload);

    /// <summary>Parses one whole message from contiguous bytes.</summary>
    public T Deserialize(ReadOnlyMemory<byte> payload) =>
        _spanDeserializer is not null ? _spanDeserializer(payload.Span) : _deserializer(new ReadOnlySequence<byte>(payload));
}
