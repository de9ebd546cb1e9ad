using System.Buffers.Binary;

namespace Kv.Node.Ranges;

/// <summary>
/// Key layout of the column families the store owns outside the Raft log (DESIGN.md section 3):
///  default: 'z' + user key                     raw values (the MVCC layout replaces this with the transactional API)
///  default, lock, write: 'x' + ...            transactional (MVCC) data, owned by node/Mvcc (TxnKeys)
///  meta:    'i'                                this store's identity (StoreIdent)
///          'd' + range id (8 bytes, BE)        the descriptor of a range replica this store holds
///          'p' ...                             placement state (node/Placement, placement members only)
/// The 'z' prefix keeps user keys apart from any internal key we may add to default later and
/// leaves user keys in their natural (memcomparable) order.
/// </summary>
internal static class Keys
{
    public const byte DataPrefix = (byte)'z';
    public const byte RangeDescriptorPrefix = (byte)'d';
    public static readonly byte[] StoreIdent = "i"u8.ToArray();

    public static byte[] Data(ReadOnlySpan<byte> userKey)
    {
        var k = new byte[userKey.Length + 1];
        k[0] = DataPrefix;
        userKey.CopyTo(k.AsSpan(1));
        return k;
    }

    /// <summary>The first key after every data key: the exclusive upper bound of "to the end of the key space".</summary>
    public static readonly byte[] DataEnd = [DataPrefix + 1];

    public static byte[] RangeDescriptor(ulong rangeId)
    {
        var k = new byte[9];
        k[0] = RangeDescriptorPrefix;
        BinaryPrimitives.WriteUInt64BigEndian(k.AsSpan(1), rangeId);
        return k;
    }

    public static readonly byte[] RangeDescriptorsStart = [RangeDescriptorPrefix];
    public static readonly byte[] RangeDescriptorsEnd = [RangeDescriptorPrefix + 1];
}
