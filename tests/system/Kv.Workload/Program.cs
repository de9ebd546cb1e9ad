using Kv.Workload;

WorkloadCli.StoreFactory = KvClientTxnStore.Open;

return await WorkloadCli.RunAsync(args, Console.Out, Console.Error);
