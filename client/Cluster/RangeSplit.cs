using Kv.Proto.V1;

namespace Kv.Client.Cluster;

/// <summary>The two halves of a split range: Left keeps the range id and [start, split key), Right is the new range [split key, end).</summary>
public sealed record RangeSplit(RangeDescriptor Left, RangeDescriptor Right);
