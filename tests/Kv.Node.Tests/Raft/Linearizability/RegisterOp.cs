namespace Kv.Node.Tests.Raft.Linearizability;

internal enum RegisterOpKind
{
    Read,
    Write,
}

/// <summary>
/// One client operation on a single register. Times are the simulator's logical clock.
/// Return == Pending means the client never learned the outcome: a write may or may not have
/// taken effect (at any time after Invoke); reads without a result carry no information and are
/// left out of histories.
/// </summary>
internal readonly record struct RegisterOp(int Client, RegisterOpKind Kind, long Invoke, long Return, ulong Value)
{
    public const long Pending = long.MaxValue;

    public bool IsPending => Return == Pending;

    public static RegisterOp Write(int client, long invoke, long ret, ulong value) => new(client, RegisterOpKind.Write, invoke, ret, value);

    public static RegisterOp Read(int client, long invoke, long ret, ulong value) => new(client, RegisterOpKind.Read, invoke, ret, value);

    public override string ToString() =>
        $"c{Client} {Kind}({Value}) [{Invoke}, {(IsPending ? "?" : Return.ToString(System.Globalization.CultureInfo.InvariantCulture))}]";
}
