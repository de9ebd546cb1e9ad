using Google.Protobuf;
using Kv.Node.Mvcc;

namespace Kv.Node.Tests.Mvcc;

/// <summary>The ByteString overload of <see cref="Latches.AcquireAsync(IReadOnlyList{ByteString}, CancellationToken)"/> (the scheduler's hot path).</summary>
public sealed class LatchesTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Keys_sharing_a_slot_are_taken_once_so_a_command_never_waits_for_itself()
    {
        // One slot: every key shares it. Taking it once per key would wait forever on the second key.
        var latches = new Latches(slotCount: 1);
        using var held = await latches.AcquireAsync([ByteString.CopyFromUtf8("a"), ByteString.CopyFromUtf8("b"), ByteString.CopyFromUtf8("a")]).WaitAsync(Deadline);

        // Negative control: the slot really is held, so another command waits until it is released.
        var next = latches.AcquireAsync([ByteString.CopyFromUtf8("c")]);
        Assert.False(next.IsCompleted);
        held.Dispose();
        using var after = await next.WaitAsync(Deadline);
    }

    [Fact]
    public async Task A_cancelled_wait_releases_the_slots_it_had_taken()
    {
        var latches = new Latches(slotCount: 64);
        // a's slot below b's: the command takes a's slot, then waits for b's.
        var (a, b) = KeysInAscendingSlots(latches);
        var holdB = await latches.AcquireAsync([b]).WaitAsync(Deadline);
        using var cancel = new CancellationTokenSource();
        var both = latches.AcquireAsync([a, b], cancel.Token);
        Assert.False(both.IsCompleted);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => both.WaitAsync(Deadline));

        // Had the cancelled command kept a's slot, this would wait.
        using var onlyA = await latches.AcquireAsync([a]).WaitAsync(Deadline);
        holdB.Dispose();
    }

    private static (ByteString Low, ByteString High) KeysInAscendingSlots(Latches latches)
    {
        var first = ByteString.CopyFromUtf8("k0");
        for (var i = 1; ; i++)
        {
            var candidate = ByteString.CopyFromUtf8($"k{i}");
            var (x, y) = (latches.Slot(first.Span), latches.Slot(candidate.Span));
            if (x != y)
            {
                return x < y ? (first, candidate) : (candidate, first);
            }
        }
    }
}
