using System.Buffers;

namespace Kv.Client.Rpc.Http;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> over the rest of one array, for marshallers that write
/// into a buffer already sized by <see cref="Marshaller{T}.ComputeSize"/>.
/// </summary>
internal sealed class FixedBufferWriter(byte[] buffer, int offset) : IBufferWriter<byte>
{
    private readonly int _start = offset;
    private int _position = offset;

    /// <summary>Bytes written after the initial offset.</summary>
    public int Written => _position - _start;

    public void Advance(int count)
    {
        if (count < 0 || _position + count > buffer.Length)
        {
            throw new InvalidOperationException("the marshaller wrote more bytes than ComputeSize reported");
        }

        _position += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0) => buffer.AsMemory(Check(sizeHint));

    public Span<byte> GetSpan(int sizeHint = 0) => buffer.AsSpan(Check(sizeHint));

    private int Check(int sizeHint) => buffer.Length - _position >= sizeHint
        ? _position
        : throw new InvalidOperationException("the marshaller wrote more bytes than ComputeSize reported");
}
