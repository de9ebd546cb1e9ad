'use strict';
// A grpc-js server implementing kv.v1.Echo with the semantics of proto/kv/v1/echo.proto
// (the same as node/Server/Services/EchoService.cs). Used by tests/Kv.Interop.Tests.
//
//   node server.js [--max-receive BYTES] [--tls CERT.pem KEY.pem]
//
// Prints "LISTENING <port>" once bound to 127.0.0.1 on a free port, and
// "ENDED <tag> <ok|failed|cancelled>" when the handler of a tagged call finishes, so tests
// can check that a handler saw a cancellation or deadline.
const fs = require('fs');
const { grpc, Echo } = require('./echo-proto');

const args = process.argv.slice(2);
const option = (name) => { const i = args.indexOf(name); return i >= 0 ? args.slice(i + 1) : null; };
const maxReceive = option('--max-receive') ? Number(option('--max-receive')[0]) : 4 * 1024 * 1024;
const tls = option('--tls');

function ended(tag, how) {
  if (tag) process.stdout.write(`ENDED ${tag} ${how}\n`);
}

function reply(req, index) {
  return { payload: req.responseSize > 0 ? Buffer.alloc(req.responseSize) : req.payload, message: req.message, index };
}

function failure(req) {
  return req.failCode ? { code: req.failCode, details: req.failMessage } : null;
}

// Resolves after the request's delay; rejects when the call is cancelled (client or deadline).
function delay(req, call) {
  if (req.delayMs === 0) return Promise.resolve();
  return waitFor(call, (done) => (req.delayMs > 0 ? setTimeout(done, req.delayMs) : null), clearTimeout);
}

// Waits for start(done) to call done; rejects if the call is cancelled first. Listeners are
// removed either way, so long streams do not pile them up.
function waitFor(call, start, stop) {
  return new Promise((resolve, reject) => {
    if (call.cancelled) { reject(new Error('cancelled')); return; }
    let handle = null;
    const onCancel = () => { if (handle !== null) stop(handle); reject(new Error('cancelled')); };
    call.once('cancelled', onCancel);
    handle = start(() => { call.removeListener('cancelled', onCancel); resolve(); });
  });
}

const handlers = {
  async unary(call, callback) {
    const req = call.request;
    try { await delay(req, call); } catch { ended(req.tag, 'cancelled'); return; }
    const err = failure(req);
    if (err) { ended(req.tag, 'failed'); callback(err); return; }
    ended(req.tag, 'ok');
    callback(null, reply(req, 0));
  },

  async serverStream(call) {
    const req = call.request;
    const err = failure(req);
    if (err) { ended(req.tag, 'failed'); call.emit('error', err); return; }
    try {
      for (let i = 0; req.count === 0 || i < req.count; i++) {
        await delay(req, call);
        if (call.cancelled) throw new Error('cancelled');
        if (!call.write(reply(req, i))) {
          await waitFor(call, (done) => { call.once('drain', done); return done; }, (done) => call.removeListener('drain', done));
        }
      }
    } catch { ended(req.tag, 'cancelled'); return; }
    ended(req.tag, 'ok');
    call.end();
  },

  clientStream(call, callback) {
    let count = 0, totalBytes = 0, tag = '', done = false;
    call.on('data', (req) => {
      if (done) return;
      tag = tag || req.tag;
      const err = failure(req);
      if (err) { done = true; ended(tag, 'failed'); callback(err); return; }
      count++;
      totalBytes += req.payload.length;
    });
    call.on('end', () => { if (!done) { done = true; ended(tag, 'ok'); callback(null, { count, totalBytes }); } });
    call.on('cancelled', () => { if (!done) { done = true; ended(tag, 'cancelled'); } });
  },

  bidi(call) {
    let index = 0, tag = '', done = false;
    call.on('data', (req) => {
      if (done) return;
      tag = tag || req.tag;
      const err = failure(req);
      if (err) { done = true; ended(tag, 'failed'); call.emit('error', err); return; }
      call.write(reply(req, index++));
    });
    call.on('end', () => { if (!done) { done = true; ended(tag, 'ok'); call.end(); } });
    call.on('cancelled', () => { if (!done) { done = true; ended(tag, 'cancelled'); } });
  },
};

const server = new grpc.Server({
  'grpc.max_receive_message_length': maxReceive,
});
server.addService(Echo.service, handlers);
const credentials = tls
  ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: fs.readFileSync(tls[0]), private_key: fs.readFileSync(tls[1]) }], false)
  : grpc.ServerCredentials.createInsecure();
server.bindAsync('127.0.0.1:0', credentials, (err, port) => {
  if (err) { process.stderr.write(`bind failed: ${err.message}\n`); process.exit(1); }
  process.stdout.write(`LISTENING ${port}\n`);
});

// The test harness closes stdin (or kills us) when done.
process.stdin.on('end', () => server.tryShutdown(() => process.exit(0)));
process.stdin.resume();
