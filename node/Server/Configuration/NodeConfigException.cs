namespace Kv.Node.Server.Configuration;

/// <summary>The configuration is unusable; the message says which setting, from which source, and what to do.</summary>
internal sealed class NodeConfigException : Exception
{
    public NodeConfigException()
    {
    }

    public NodeConfigException(string message)
        : base(message)
    {
    }

    public NodeConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
