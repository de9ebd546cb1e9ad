using Kv.Node.Storage.Native;

namespace Kv.Node.Storage;

/// <summary>
/// A consistent, read-only view of the whole engine at the moment it was taken. Pass it to
/// <see cref="Engine.Get(ColumnFamily, ReadOnlySpan{byte}, EngineSnapshot?)"/> and
/// <see cref="Engine.NewIterator"/>. Dispose it promptly: it pins old versions of data.
/// </summary>
public sealed class EngineSnapshot : IDisposable
{
    private readonly SnapshotHandle _handle;

    internal EngineSnapshot(Engine engine, SnapshotHandle handle)
    {
        Engine = engine;
        _handle = handle;
    }

    internal Engine Engine { get; }

    /// <summary>The handle whether or not it is closed, for callers that reference it themselves.</summary>
    internal SnapshotHandle RawHandle => _handle;

    internal SnapshotHandle Handle => _handle.IsClosed
        ? throw new ObjectDisposedException(nameof(EngineSnapshot), "the snapshot was disposed; take a new one with Engine.GetSnapshot")
        : _handle;

    public void Dispose() => _handle.Dispose();
}
