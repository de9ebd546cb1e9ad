using System.CommandLine;
using Kv.Cli.Output;
using Kv.Client;

namespace Kv.Cli.Commands;

/// <summary><c>kvctl version</c>: the version of kvctl and its client library.</summary>
internal static class VersionCommand
{
    /// <summary>The JSON/YAML document; field names are a documented contract (apiVersion bumps on change).</summary>
    internal sealed record VersionDocument(string ApiVersion, string Kvctl, string Client, string Framework);

    public static Command Build(TextWriter stdout)
    {
        var output = OutputWriter.CreateOption();
        var command = new Command("version", "Print the version of kvctl");
        command.Options.Add(output);
        command.SetAction(parse => Execute(stdout, parse.GetValue(output)));
        return command;
    }

    public static int Execute(TextWriter stdout, OutputFormat format)
    {
        var doc = new VersionDocument("kvctl/v1", BuildVersion.Version, BuildVersion.Version, BuildVersion.Framework);
        if (format == OutputFormat.Table)
        {
            OutputWriter.WriteTable(stdout, ["COMPONENT", "VERSION"],
            [
                ["kvctl", doc.Kvctl],
                ["client", doc.Client],
                ["framework", doc.Framework],
            ]);
        }
        else
        {
            OutputWriter.WriteDocument(stdout, format, doc);
        }

        return ExitCodes.Ok;
    }
}
