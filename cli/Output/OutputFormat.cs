namespace Kv.Cli.Output;

/// <summary>How a read command prints: a human table, or JSON/YAML documents whose shape is a contract.</summary>
internal enum OutputFormat
{
    Table,
    Json,
    Yaml,
}
