// @fastify/http-proxy with fastify's own logger (pino) at info: what a fastify user runs in
// production — a "incoming request" and a "request completed" line per request, to stdout.
// Usage: node bench/targets/fastify-proxy-logger.js LISTEN_PORT UPSTREAM_URL
const fastify = require('fastify')({ logger: { level: 'info' } });

fastify.register(require('@fastify/http-proxy'), { upstream: process.argv[3] });
fastify.listen({ port: Number(process.argv[2]), host: '127.0.0.1' });
