using Kv.Client;
using Kv.Node.Placement;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Placement;

/// <summary>
/// The TSO arithmetic with a fake clock: a leader serves only below the persisted window, and
/// timestamps increase strictly within a term and across failovers, whatever the clocks do.
/// </summary>
public class TsoAllocatorTests
{
    private const long T0 = 1_700_000_000_000;

    /// <summary>Allocates, persisting a window extension first when asked (as the service does through Raft).</summary>
    private static Timestamp Serve(TsoAllocator tso, PlacementState state, long nowMs, uint count, ref int extensions)
    {
        for (int i = 0; i < 3; i++)
        {
            var step = tso.Allocate(nowMs, state.Snapshot.TsoWindowEndMs, count);
            if (step.IsAllocated)
            {
                Assert.True(step.Last.PhysicalMs <= state.Snapshot.TsoWindowEndMs, "served only below the persisted window");
                return step.Last;
            }

            Assert.True(step.NeedWindowEndMs > state.Snapshot.TsoWindowEndMs, "an extension asks for more than is persisted");
            Assert.Equal(PlacementErrorCode.PlacementErrorNone, state.Apply(PlacementTestData.ExtendTso(step.NeedWindowEndMs)).Code);
            extensions++;
        }

        throw new InvalidOperationException("the allocator kept asking for a window after it was persisted");
    }

    [Fact]
    public void A_new_leader_persists_a_window_before_serving_then_serves_from_it_without_further_writes()
    {
        var tso = new TsoAllocator(windowMs: 3_000);
        tso.Reset(0);
        var first = tso.Allocate(T0, persistedWindowEndMs: 0, count: 1);
        Assert.False(first.IsAllocated);
        Assert.Equal(T0 + 3_000, first.NeedWindowEndMs);

        var served = tso.Allocate(T0, T0 + 3_000, 10);
        Assert.True(served.IsAllocated);
        Assert.Equal(Timestamp.Compose(T0, 9), served.Last);
        var next = tso.Allocate(T0, T0 + 3_000, 1);
        Assert.Equal(Timestamp.Compose(T0, 10), next.Last);
        var later = tso.Allocate(T0 + 2_999, T0 + 3_000, 1);
        Assert.Equal(Timestamp.Compose(T0 + 2_999, 0), later.Last);
        Assert.False(tso.Allocate(T0 + 3_001, T0 + 3_000, 1).IsAllocated);
    }

    [Fact]
    public void A_refused_allocation_hands_out_nothing()
    {
        var tso = new TsoAllocator();
        tso.Reset(T0);
        var before = tso.Last;
        Assert.False(tso.Allocate(T0 + 10, T0, 1).IsAllocated);
        Assert.Equal(before, tso.Last);
    }

    [Fact]
    public void A_new_term_starts_above_the_persisted_window_even_when_its_clock_is_behind()
    {
        var tso = new TsoAllocator();
        tso.Reset(T0 + 10_000);
        // The clock reads 10 s earlier than the window end: serve strictly above the window end.
        var need = tso.Allocate(T0, T0 + 10_000, 1);
        Assert.False(need.IsAllocated);
        Assert.True(need.NeedWindowEndMs > T0 + 10_000);
        var step = tso.Allocate(T0, need.NeedWindowEndMs, 1);
        Assert.Equal(Timestamp.Compose(T0 + 10_001, 0), step.Last);
    }

    [Fact]
    public void A_clock_going_backwards_never_takes_timestamps_back()
    {
        var tso = new TsoAllocator();
        tso.Reset(0);
        long window = T0 + 60_000;
        var a = tso.Allocate(T0 + 5_000, window, 1).Last;
        var b = tso.Allocate(T0 + 1_000, window, 1).Last;
        var c = tso.Allocate(T0, window, 3).Last;
        Assert.True(b > a);
        Assert.Equal(a.Value + 1, b.Value);
        Assert.Equal(b.Value + 3, c.Value);
    }

    [Fact]
    public void Logical_overflow_moves_to_the_next_millisecond_and_a_batch_may_span_several()
    {
        var tso = new TsoAllocator();
        tso.Reset(0);
        long window = T0 + 60_000;
        var a = tso.Allocate(T0, window, Timestamp.MaxLogical).Last;
        Assert.Equal(Timestamp.Compose(T0, Timestamp.MaxLogical - 1), a);
        var b = tso.Allocate(T0, window, 2).Last;
        Assert.Equal(Timestamp.Compose(T0 + 1, 0), b);

        // Three milliseconds' worth in one batch while the clock stands still.
        uint big = (3 * (Timestamp.MaxLogical + 1)) + 7;
        var c = tso.Allocate(T0, window, big).Last;
        Assert.Equal(b.Value + big, c.Value);
        Assert.Equal(T0 + 4, c.PhysicalMs);

        // A batch that would cross the window end asks for a window covering it.
        var need = tso.Allocate(window, window, big);
        Assert.False(need.IsAllocated);
        Assert.True(need.NeedWindowEndMs >= window + 3);
    }

    [Fact]
    public void Failover_between_leaders_with_skewed_clocks_keeps_timestamps_strictly_increasing()
    {
        var state = PlacementState.Empty;
        int extensions = 0;
        // Leader A's clock is 20 s ahead.
        var a = new TsoAllocator();
        a.Reset(state.Snapshot.TsoWindowEndMs);
        var fromA = Serve(a, state, T0 + 20_000, 100, ref extensions);

        // Leader B takes over with an accurate clock: 20 s behind A.
        var b = new TsoAllocator();
        b.Reset(state.Snapshot.TsoWindowEndMs);
        var fromB = Serve(b, state, T0, 1, ref extensions);
        Assert.True(fromB > fromA, $"{fromB} after {fromA}");

        // A comes back as leader later, with its clock now 5 s behind B's.
        a.Reset(state.Snapshot.TsoWindowEndMs);
        var again = Serve(a, state, T0 - 5_000, 1, ref extensions);
        Assert.True(again > fromB, $"{again} after {fromB}");
        Assert.Equal(3, extensions);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(18)]
    public void Randomized_failovers_clock_skew_and_jumps_never_repeat_or_reorder_a_timestamp(int seed)
    {
        var random = new Random(seed);
        var state = PlacementState.Empty;
        long trueTime = T0;
        long[] skew = [0, random.Next(-10_000, 10_000), random.Next(-10_000, 10_000)];
        var leaders = new TsoAllocator[3];
        int current = 0;
        leaders[0] = new TsoAllocator(random.Next(1, 5_000));
        leaders[0].Reset(state.Snapshot.TsoWindowEndMs);
        int extensions = 0, batches = 0;
        ulong last = 0;
        for (int step = 0; step < 3_000; step++)
        {
            switch (random.Next(20))
            {
                case 0:
                    // Failover: a new leader (reset after a read barrier) with its own clock.
                    current = random.Next(3);
                    leaders[current] = new TsoAllocator(random.Next(1, 5_000));
                    leaders[current].Reset(state.Snapshot.TsoWindowEndMs);
                    break;
                case 1:
                    // This leader's clock jumps (backwards or forwards).
                    skew[current] += random.Next(-8_000, 8_000);
                    break;
                default:
                    trueTime += random.Next(0, 50);
                    break;
            }

            uint count = random.Next(10) == 0 ? (uint)random.Next(1, 700_000) : (uint)random.Next(1, 100);
            var ts = Serve(leaders[current], state, trueTime + skew[current], count, ref extensions);
            ulong firstOfBatch = ts.Value - count + 1;
            Assert.True(firstOfBatch > last, $"seed {seed} step {step}: batch [{firstOfBatch}, {ts.Value}] does not start after {last}");
            last = ts.Value;
            batches++;
        }

        Assert.True(extensions < batches, "most batches are served from an already persisted window");
    }
}
