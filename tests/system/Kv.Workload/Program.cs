using Kv.Workload;

return await WorkloadCli.RunAsync(args, Console.Out, Console.Error);
