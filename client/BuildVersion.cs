using System.Reflection;
using System.Runtime.InteropServices;

namespace Kv.Client;

/// <summary>Version of this client library, as every face reports it.</summary>
public static class BuildVersion
{
    /// <summary>The informational version of Kv.Client (for example "0.1.0").</summary>
    public static string Version { get; } =
        typeof(BuildVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "0.0.0";

    /// <summary>The .NET runtime the caller runs on.</summary>
    public static string Framework => RuntimeInformation.FrameworkDescription;
}
