using System.Buffers;

namespace Kv.Client.Rpc;

/// <summary>
/// Turns messages of one type into bytes and back. Serialization is size-first so the
/// transport can write the 5-byte length prefix and check message limits before any bytes
/// of the message are produced; deserialization reads from a (possibly segmented) sequence so
/// the server can parse straight from Kestrel's buffers without copying.
/// </summary>
public sealed class Marshaller<T>
{
    private readonly Func<T, int> _computeSize;
    private readonly Action<T, IBufferWriter<byte>> _serializer;
    private readonly Func<ReadOnlySequence<byte>, T> _deserializer;

    /// <param name="computeSize">Exact serialized size of a message.</param>
    /// <param name="serializer">Writes exactly <paramref name="computeSize"/> bytes of the message.</param>
    /// <param name="deserializer">Parses one whole message; throws on malformed input.</param>
    public Marshaller(Func<T, int> computeSize, Action<T, IBufferWriter<byte>> serializer, Func<ReadOnlySequence<byte>, T> deserializer)
    {
        ArgumentNullException.ThrowIfNull(computeSize);
        ArgumentNullException.ThrowIfNull(serializer);
        ArgumentNullException.ThrowIfNull(deserializer);
        _computeSize = computeSize;
        _serializer = serializer;
        _deserializer = deserializer;
    }

    public int ComputeSize(T message) => _computeSize(message);

    public void Serialize(T message, IBufferWriter<byte> destination) => _serializer(message, destination);

    public T Deserialize(ReadOnlySequence<byte> payload) => _deserializer(payload);
}
