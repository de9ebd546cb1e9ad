namespace Kv.Client.Tests;

public class TimestampTests
{
    [Fact]
    public void Compose_packs_physical_in_the_high_bits_and_logical_in_the_low_18()
    {
        var ts = Timestamp.Compose(1_700_000_000_000, 5);
        Assert.Equal((1_700_000_000_000UL << 18) | 5, ts.Value);
        Assert.Equal(1_700_000_000_000, ts.PhysicalMs);
        Assert.Equal(5u, ts.Logical);
    }

    [Fact]
    public void A_later_millisecond_orders_after_any_logical_counter_of_an_earlier_one()
    {
        var early = Timestamp.Compose(1000, Timestamp.MaxLogical);
        var late = Timestamp.Compose(1001, 0);
        Assert.True(early < late);
        Assert.True(late > early);
        Assert.Equal(-1, early.CompareTo(late));
    }

    [Fact]
    public void Values_that_do_not_fit_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Timestamp.Compose(-1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Timestamp.Compose(Timestamp.MaxPhysicalMs + 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Timestamp.Compose(0, Timestamp.MaxLogical + 1));
    }

    [Fact]
    public void Max_sorts_after_every_composable_timestamp()
    {
        Assert.True(Timestamp.Compose(Timestamp.MaxPhysicalMs, Timestamp.MaxLogical) <= Timestamp.Max);
        Assert.True(Timestamp.Zero < Timestamp.Compose(0, 1));
    }
}
