'use strict';
// Loads kv.v1.Echo from proto/ (the same file the C# side compiles), the way a third-party
// gRPC user would: with @grpc/proto-loader at runtime.
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const definition = protoLoader.loadSync('kv/v1/echo.proto', {
  includeDirs: [path.resolve(__dirname, '../../proto')],
  longs: Number,
  defaults: true,
  bytes: Buffer,
});

module.exports = { grpc, Echo: grpc.loadPackageDefinition(definition).kv.v1.Echo, definition };
