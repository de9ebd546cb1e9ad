// Each system test runs real processes (a whole cluster) on a small machine: one at a time, so
// the tests do not starve each other's nodes of CPU and turn deadlines into flakes.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
