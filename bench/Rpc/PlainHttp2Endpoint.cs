using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using Google.Protobuf;
using Kv.Proto.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Kv.Bench.Rpc;

/// <summary>
/// The baseline: Kestrel, cleartext HTTP/2, one terminal middleware, no gRPC. <c>/unary</c>
/// parses an EchoRequest body and answers an EchoResponse with its payload; <c>/stream</c>
/// answers <c>count</c> messages of <c>response_size</c> bytes, each behind a 4-byte length and
/// flushed on its own, as the gRPC server flushes each streamed message.
/// </summary>
internal sealed class PlainHttp2Endpoint : IAsyncDisposable
{
    private readonly WebApplication _app;

    private PlainHttp2Endpoint(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    public static async Task<PlainHttp2Endpoint> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = null;
            k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new PlainHttp2Endpoint(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static async Task HandleAsync(HttpContext http)
    {
        var request = await ReadRequestAsync(http.Request.BodyReader);
        http.Response.ContentType = "application/octet-stream";
        var writer = http.Response.BodyWriter;
        if (http.Request.Path.Value == "/unary")
        {
            Write(writer, new EchoResponse { Payload = request.Payload });
            return;
        }

        var response = RpcBenchService.Response(request);
        for (var i = 0; i < request.Count; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(writer.GetSpan(4), response.CalculateSize());
            writer.Advance(4);
            Write(writer, response);
            await writer.FlushAsync(http.RequestAborted);
        }
    }

    // Sized span, not protobuf's IBufferWriter path: that one starts with Advance(0), which
    // Kestrel refuses as the very first call on a response body.
    private static void Write(PipeWriter writer, EchoResponse message)
    {
        var size = message.CalculateSize();
        message.WriteTo(writer.GetSpan(size)[..size]);
        writer.Advance(size);
    }

    private static async Task<EchoRequest> ReadRequestAsync(PipeReader reader)
    {
        while (true)
        {
            var result = await reader.ReadAsync();
            if (result.IsCompleted)
            {
                var request = EchoRequest.Parser.ParseFrom(result.Buffer);
                reader.AdvanceTo(result.Buffer.End);
                return request;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
