using Kv.Cli;

return KvctlApp.Run(args, Console.Out, Console.Error);
