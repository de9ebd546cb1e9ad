namespace Kv.Client.Rpc;

/// <summary>The outcome of a call: a code and a human-readable detail (the <c>grpc-message</c>).</summary>
public readonly record struct Status(StatusCode StatusCode, string Detail)
{
    /// <summary>Success with no detail.</summary>
    public static Status DefaultSuccess => new(StatusCode.OK, string.Empty);

    public override string ToString() =>
        Detail.Length == 0 ? $"Status(StatusCode=\"{StatusCode}\")" : $"Status(StatusCode=\"{StatusCode}\", Detail=\"{Detail}\")";
}
