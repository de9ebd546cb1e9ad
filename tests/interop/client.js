'use strict';
// A grpc-js client that runs one scenario against a kv.v1.Echo server and prints what it
// observed as one JSON line; the xunit tests in tests/Kv.Interop.Tests make the assertions.
//
//   node client.js HOST:PORT SCENARIO [--tls CA.pem] [--arg N]
//
// Exit code 0 when the scenario ran (whatever the statuses), 2 on usage errors.
const fs = require('fs');
const { grpc, Echo } = require('./echo-proto');

const [target, scenario, ...rest] = process.argv.slice(2);
const option = (name) => { const i = rest.indexOf(name); return i >= 0 ? rest[i + 1] : null; };
const arg = Number(option('--arg') || 0);
const ca = option('--tls');
const credentials = ca ? grpc.credentials.createSsl(fs.readFileSync(ca)) : grpc.credentials.createInsecure();
const client = new Echo(target, credentials, {
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
  'grpc.max_send_message_length': 16 * 1024 * 1024,
});

const deadlineIn = (ms) => new Date(Date.now() + ms);
const statusOf = (err) => ({ code: err.code, details: err.details });

function unary(req, options = {}) {
  return new Promise((resolve) => {
    client.unary(req, options, (err, res) => resolve(err ? { error: statusOf(err) } : { response: res }));
  });
}

function collect(call) {
  return new Promise((resolve) => {
    const messages = [];
    call.on('data', (m) => messages.push(m));
    call.on('error', (err) => resolve({ messages, error: statusOf(err) }));
    call.on('status', (s) => { if (s.code === 0) resolve({ messages, status: s.code }); });
  });
}

const scenarios = {
  async unary() {
    const r = await unary({ message: 'hello from grpc-js', payload: Buffer.from('abc') });
    return { message: r.response.message, payload: r.response.payload.toString() };
  },

  async 'server-stream'() {
    const r = await collect(client.serverStream({ count: 5, responseSize: 10 }));
    return { indexes: r.messages.map((m) => m.index), sizes: r.messages.map((m) => m.payload.length), status: r.status, error: r.error };
  },

  async 'client-stream'() {
    return new Promise((resolve) => {
      const call = client.clientStream((err, res) => resolve(err ? { error: statusOf(err) } : { count: res.count, totalBytes: res.totalBytes }));
      for (let i = 0; i < 10; i++) call.write({ payload: Buffer.alloc(i) });
      call.end();
    });
  },

  async bidi() {
    const call = client.bidi();
    const replies = [];
    for (let i = 0; i < 5; i++) {
      const reply = new Promise((resolve) => call.once('data', resolve));
      call.write({ message: `m${i}` });
      const m = await reply;
      replies.push({ message: m.message, index: m.index });
    }
    const status = new Promise((resolve) => call.on('status', (s) => resolve(s.code)));
    call.end();
    call.on('data', () => {});
    return { replies, status: await status };
  },

  async error() {
    const r = await unary({ failCode: 9, failMessage: 'räksmörgås 100% ✓ 日本' });
    return r.error;
  },

  async deadline() {
    // Connect first, so that the deadline is spent in the handler, not in connection setup.
    await unary({});
    const r = await unary({ delayMs: -1, tag: option('--tag') }, { deadline: deadlineIn(arg || 300) });
    return r.error;
  },

  async cancel() {
    const call = client.serverStream({ count: 0, tag: option('--tag') });
    return new Promise((resolve) => {
      let received = 0;
      call.on('data', () => { if (++received === 1) call.cancel(); });
      call.on('error', (err) => resolve({ received, ...statusOf(err) }));
    });
  },

  async large() {
    const r = await unary({ payload: Buffer.alloc(arg) });
    return r.error ? r.error : { length: r.response.payload.length };
  },

  async 'large-response'() {
    const r = await unary({ responseSize: arg });
    return r.error ? r.error : { length: r.response.payload.length };
  },

  async concurrent() {
    const n = arg || 200;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => unary({ message: String(i) })));
    const correct = results.filter((r, i) => r.response && r.response.message === String(i)).length;
    return { calls: n, correct };
  },

  async unimplemented() {
    return new Promise((resolve) => {
      const serialize = () => Buffer.alloc(0);
      client.makeUnaryRequest('/kv.v1.Echo/NoSuchMethod', serialize, (b) => b, {}, (err) => resolve(err ? statusOf(err) : { code: 0 }));
    });
  },
};

if (!target || !scenarios[scenario]) {
  process.stderr.write(`usage: node client.js HOST:PORT (${Object.keys(scenarios).join('|')}) [--arg N] [--tag T] [--tls CA.pem]\n`);
  process.exit(2);
}

scenarios[scenario]().then((result) => {
  process.stdout.write(JSON.stringify(result) + '\n');
  client.close();
  process.exit(0);
}, (err) => {
  process.stderr.write(`scenario ${scenario} threw: ${err && err.stack}\n`);
  process.exit(1);
});
