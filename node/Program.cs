using Kv.Client;

if (args is ["--version"] or ["version"])
{
    Console.WriteLine($"kv-node {BuildVersion.Version}");
    return 0;
}

Console.Error.WriteLine("usage: kv-node version");
return 2;
