using System.Text.Json.Serialization;

namespace Kv.Client.Views;

/// <summary>
/// The JSON contract's version. A field is only ever added under one version; renaming or removing
/// a field, or changing its meaning or an enum string, makes the next version (kv/v2), and clients
/// print the version they were built with (docs/CLI.md, "The JSON contract").
/// </summary>
public static class ApiVersion
{
    public const string V1 = "kv/v1";
}

/// <summary>
/// A view that can stand alone as a document (kvctl -o json, the module's objects, the operator's
/// status): it says its contract version and what it is. Parts of a view (a plan step, a replica)
/// are always inside one and do not repeat them.
/// </summary>
/// Implementations put both first in the JSON ([JsonPropertyOrder(-2)] and (-1)).
public interface IView
{
    string ApiVersion { get; }

    string Kind { get; }
}

/// <summary>A list of views of one kind ("OperationList" of "Operation" items), newest or oldest first as the call says.</summary>
public sealed record ListView<T>([property: JsonPropertyOrder(-1)] string Kind, IReadOnlyList<T> Items) : IView
    where T : IView
{
    [JsonPropertyOrder(-2)]
    public string ApiVersion => Views.ApiVersion.V1;
}
