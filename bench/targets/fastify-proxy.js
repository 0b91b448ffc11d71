// @fastify/http-proxy with default options (undici with keep-alive underneath).
// Usage: node bench/targets/fastify-proxy.js LISTEN_PORT UPSTREAM_URL
const fastify = require('fastify')({ logger: false });

fastify.register(require('@fastify/http-proxy'), { upstream: process.argv[3] });
fastify
  .listen({ port: Number(process.argv[2]), host: '127.0.0.1' })
  .then(() => process.stdout.write('ready\n'));
