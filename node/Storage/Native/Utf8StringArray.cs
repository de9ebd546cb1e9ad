using System.Runtime.InteropServices;

namespace Kv.Node.Storage.Native;

/// <summary>
/// A C array of NUL-terminated UTF-8 strings (<c>const char* const*</c>) in native memory, for
/// the calls that take lists of names or paths. Freed on dispose; not for hot paths.
/// </summary>
internal sealed unsafe class Utf8StringArray : IDisposable
{
    public Utf8StringArray(IReadOnlyList<string> strings)
    {
        Count = strings.Count;
        Pointers = (byte**)NativeMemory.AllocZeroed((nuint)Math.Max(Count, 1), (nuint)sizeof(byte*));
        for (var i = 0; i < Count; i++)
        {
            Pointers[i] = (byte*)Marshal.StringToCoTaskMemUTF8(strings[i]);
        }
    }

    public int Count { get; }

    public byte** Pointers { get; private set; }

    public void Dispose()
    {
        if (Pointers == null)
        {
            return;
        }

        for (var i = 0; i < Count; i++)
        {
            Marshal.FreeCoTaskMem((nint)Pointers[i]);
        }

        NativeMemory.Free(Pointers);
        Pointers = null;
    }
}
