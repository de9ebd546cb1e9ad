'use strict';
// A grpc-js client of a real kv-node: the node's own services (kv.v1.RawKv, kv.v1.TxnKv) loaded
// from proto/ and the standard grpc.health.v1, the way a third-party user or a Kubernetes gRPC
// probe would call them. Prints what it observed as one JSON line; the xunit tests in
// tests/Kv.Interop.Tests make the assertions.
//
//   node node-client.js HOST:PORT health [--service NAME]
//   node node-client.js HOST:PORT raw-get|txn-get --range-id N --conf-ver N --version N --key KEY [--ts N]
//
// Exit code 0 when the scenario ran (whatever the statuses), 2 on usage errors.
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const options = { longs: String, defaults: true, bytes: Buffer, enums: String };
const kv = grpc.loadPackageDefinition(protoLoader.loadSync(['kv/v1/raw_kv.proto', 'kv/v1/txn_kv.proto'], {
  ...options, includeDirs: [path.resolve(__dirname, '../../proto')],
})).kv.v1;
const health = grpc.loadPackageDefinition(protoLoader.loadSync('grpc/health/v1/health.proto', {
  ...options, includeDirs: [__dirname],
})).grpc.health.v1;

const [target, scenario, ...rest] = process.argv.slice(2);
const option = (name) => { const i = rest.indexOf(name); return i >= 0 ? rest[i + 1] : null; };
const credentials = grpc.credentials.createInsecure();
const deadline = () => new Date(Date.now() + 10000);

function call(client, method, request) {
  return new Promise((resolve) => {
    client[method](request, { deadline: deadline() }, (err, res) =>
      resolve(err ? { code: err.code, details: err.details } : { code: 0, response: res }));
  });
}

function context() {
  return { rangeId: option('--range-id'), epoch: { confVer: option('--conf-ver'), version: option('--version') } };
}

const scenarios = {
  async health() {
    const r = await call(new health.Health(target, credentials), 'check', { service: option('--service') || '' });
    return r.code === 0 ? { code: 0, status: r.response.status } : r;
  },

  async 'raw-get'() {
    const r = await call(new kv.RawKv(target, credentials), 'get', { context: context(), key: Buffer.from(option('--key')) });
    return r.code === 0
      ? { code: 0, found: r.response.found, value: r.response.value.toString(), error: r.response.error }
      : r;
  },

  async 'txn-get'() {
    const r = await call(new kv.TxnKv(target, credentials), 'get',
      { context: context(), key: Buffer.from(option('--key')), version: option('--ts') });
    return r.code === 0 ? { code: 0, response: r.response } : r;
  },
};

if (!target || !scenarios[scenario]) {
  console.error(`usage: node node-client.js HOST:PORT (${Object.keys(scenarios).join('|')}) [options]`);
  process.exit(2);
}

scenarios[scenario]().then((result) => {
  console.log(JSON.stringify(result));
  process.exit(0);
}, (err) => {
  console.error(err && err.stack || String(err));
  process.exit(1);
});
