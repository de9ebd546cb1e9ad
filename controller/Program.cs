using Kv.Client;
using Kv.Operator;

// The reconcilers arrive with the operator issue; until then the binary reports what it will own.
if (args is ["--version"])
{
    Console.WriteLine($"kv-operator {BuildVersion.Version}");
    return 0;
}

Console.Error.WriteLine($"kv-operator {BuildVersion.Version}: reconcilers for {string.Join(", ", CustomResources.Kinds)} ({CustomResources.ApiVersion}) are not built yet.");
Console.Error.WriteLine("Run 'kv-operator --version' to check the binary.");
return 1;
