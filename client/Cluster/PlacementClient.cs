using Grpc.Core;
using Kv.Client.Transport;
using Kv.Proto.V1;

namespace Kv.Client.Cluster;

/// <summary>
/// Calls <c>kv.v1.Placement</c> on its leader. Every node serves the service, but only the
/// placement leader answers; the others reply NOT_LEADER naming the leader (when known) and
/// every member. The client starts from the endpoints it was given, follows the hint, adds the
/// members it learns to the addresses it rotates through, and backs off when no one knows.
/// It learns the cluster id from the first response that carries one and sends it in every
/// request header after that (a node of another cluster then refuses with CLUSTER_ID_MISMATCH).
/// </summary>
internal sealed class PlacementClient
{
    private readonly ChannelPool _channels;
    private readonly object _gate = new();

    // Seeds first, then members learned from NOT_LEADER errors; no duplicates.
    private readonly List<string> _addresses;

    private string? _leader;
    private int _next;
    private string _clusterId = string.Empty;

    public PlacementClient(ChannelPool channels, IReadOnlyList<string> seeds)
    {
        _channels = channels;
        _addresses = [.. seeds];
    }

    /// <summary>The cluster id learned from placement; empty until a response carried one.</summary>
    public string ClusterId
    {
        get
        {
            lock (_gate)
            {
                return _clusterId;
            }
        }
    }

    /// <summary>The placement leader's address as last learned (tests, status output).</summary>
    public string? Leader
    {
        get
        {
            lock (_gate)
            {
                return _leader;
            }
        }
    }

    /// <summary>
    /// Sends the request built by <paramref name="build"/> (given the header to carry) to the
    /// placement leader, retrying within the operation's deadline. Returns the response when its
    /// header has no error, or the error is <paramref name="accept"/>; throws a KvException otherwise.
    /// <paramref name="refuse"/>, when given, maps every error but NOT_LEADER and UNAVAILABLE (which
    /// are always retried here) to the exception to throw; null from it falls back to the mapping below.
    /// </summary>
    public async Task<TResponse> CallAsync<TRequest, TResponse>(
        Func<NodeStubs, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call,
        Func<RequestHeader, TRequest> build,
        Func<TResponse, ResponseHeader?> header,
        Operation op,
        PlacementErrorCode accept = PlacementErrorCode.PlacementErrorNone,
        Func<string, PlacementError, KvException?>? refuse = null)
    {
        var hintsFollowed = 0;
        while (true)
        {
            var address = Target();
            var options = op.StartAttempt(address);
            TResponse response;
            try
            {
                response = await call(_channels.Get(address), build(new RequestHeader { ClusterId = ClusterId }), options).ConfigureAwait(false);
            }
            catch (RpcException e) when (op.IsRetryable(e))
            {
                op.Note(address, e);
                Forget(address);
                await op.BackoffAsync().ConfigureAwait(false);
                continue;
            }
            catch (RpcException e)
            {
                throw op.Fail(address, e);
            }

            var h = header(response);
            Learn(h?.ClusterId);
            var error = h?.Error;
            var code = error?.Code ?? PlacementErrorCode.PlacementErrorNone;
            if (code == PlacementErrorCode.PlacementErrorNone || code == accept)
            {
                lock (_gate)
                {
                    _leader = address;
                }

                return response;
            }

            if (code is not (PlacementErrorCode.PlacementErrorNotLeader or PlacementErrorCode.PlacementErrorUnavailable)
                && refuse?.Invoke(address, error!) is { } refusal)
            {
                throw refusal;
            }

            var detail = string.IsNullOrEmpty(error!.Message) ? code.ToString() : error.Message;
            switch (code)
            {
                case PlacementErrorCode.PlacementErrorNotLeader:
                    op.Note(address, "not the placement leader: " + detail, transport: false);
                    if (FollowHint(address, error) && hintsFollowed++ < 3)
                    {
                        continue; // a fresh hint is worth one immediate retry
                    }

                    await op.BackoffAsync().ConfigureAwait(false);
                    continue;
                case PlacementErrorCode.PlacementErrorUnavailable:
                    op.Note(address, "placement unavailable: " + detail, transport: false);
                    await op.BackoffAsync().ConfigureAwait(false);
                    continue;
                case PlacementErrorCode.PlacementErrorNotBootstrapped:
                    throw new KvException(KvErrorKind.NotBootstrapped,
                        $"the cluster at {address} is not bootstrapped yet ({detail}); run `kvctl cluster bootstrap` (or `kvctl local up`)");
                case PlacementErrorCode.PlacementErrorClusterIdMismatch:
                    throw new KvException(KvErrorKind.ClusterIdMismatch,
                        $"{address} belongs to another cluster than the one this client first reached ({detail}); check the endpoints");
                case PlacementErrorCode.PlacementErrorNotFound:
                    throw new KvException(KvErrorKind.NotFound, detail);
                case PlacementErrorCode.PlacementErrorInvalidArgument:
                    throw new KvException(KvErrorKind.InvalidArgument, $"placement refused the request to {op.What}: {detail}");
                default:
                    throw new KvException(KvErrorKind.Internal, $"placement answered the request to {op.What} with {code}: {detail}");
            }
        }
    }

    /// <summary>The address to call next: the known leader, else the next seed or learned member in turn.</summary>
    internal string Target()
    {
        lock (_gate)
        {
            if (_leader is not null)
            {
                return _leader;
            }

            var address = _addresses[_next % _addresses.Count];
            _next++;
            return address;
        }
    }

    /// <summary>Forgets address as the leader (its call failed in transport).</summary>
    internal void Forget(string address)
    {
        lock (_gate)
        {
            if (_leader == address)
            {
                _leader = null;
            }
        }
    }

    /// <summary>Learns the members; points at the named leader. False when there is no usable hint.</summary>
    internal bool FollowHint(string answered, PlacementError error)
    {
        lock (_gate)
        {
            foreach (var member in error.Members)
            {
                AddAddress(member.Address);
            }

            var hint = error.Leader is { MemberId: not 0, Address.Length: > 0 } leader ? Normalize(leader.Address) : null;
            if (hint is null || hint == answered)
            {
                _leader = null;
                return false;
            }

            AddAddress(hint);
            _leader = hint;
            return true;
        }
    }

    /// <summary>Records address as the leader (it answered without NOT_LEADER).</summary>
    internal void MarkLeader(string address)
    {
        lock (_gate)
        {
            _leader = address;
        }
    }

    private void AddAddress(string address)
    {
        var normalized = Normalize(address);
        if (normalized is not null && !_addresses.Contains(normalized))
        {
            _addresses.Add(normalized);
        }
    }

    private static string? Normalize(string address)
    {
        try
        {
            return ChannelPool.Normalize(address);
        }
        catch (ArgumentException)
        {
            return null; // a malformed member address is ignored; the others still work
        }
    }

    private void Learn(string? clusterId)
    {
        if (string.IsNullOrEmpty(clusterId))
        {
            return;
        }

        lock (_gate)
        {
            if (_clusterId.Length == 0)
            {
                _clusterId = clusterId;
            }
        }
    }
}
