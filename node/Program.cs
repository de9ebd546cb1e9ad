using Kv.Client;
using Kv.Node.Storage.Tools;

// kv-node's command line. The server itself arrives with the cluster issue; until then the
// binary offers what operators need to check a machine.
switch (args)
{
    case ["--version"] or ["version"]:
        Console.WriteLine($"kv-node {BuildVersion.Version}");
        return 0;
    case ["storage", "check", "--data-dir", var dir]:
        return StorageCheck.Run(dir, Console.Out, Console.Error);
    default:
        Console.Error.WriteLine("""
            usage:
              kv-node version
              kv-node storage check --data-dir DIR   write, sync, reopen and read back a probe data set in DIR
                                                     (an empty directory, or one an earlier check made)
            """);
        return 2;
}
