using Kv.Proto.V1;

namespace Kv.Client.Cluster;

/// <summary>
/// The outcome of <see cref="KvClient.BootstrapAsync"/>. An already bootstrapped cluster is an
/// expected outcome, not an error. When a Bootstrap RPC fails after it may have been applied and
/// the retry meets ALREADY_BOOTSTRAPPED, the client cannot tell whether its own attempt did it:
/// the result then says AlreadyBootstrapped, which is still the state the caller wanted.
/// </summary>
/// <param name="AlreadyBootstrapped">True when the cluster had been bootstrapped before this call.</param>
/// <param name="ClusterId">The cluster's id (empty only if no node reported it).</param>
/// <param name="FirstRange">The first range this call created; null when AlreadyBootstrapped.</param>
/// <param name="Message">What happened, for humans.</param>
public sealed record BootstrapResult(bool AlreadyBootstrapped, string ClusterId, RangeDescriptor? FirstRange, string Message);
