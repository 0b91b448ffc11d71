// What users write: Express 5 + http-proxy-middleware with default options.
// Usage: node bench/targets/express-hpm.js LISTEN_PORT UPSTREAM_URL
const express = require('express');
const { createProxyMiddleware } = require('http-proxy-middleware');

const app = express();
app.use('/', createProxyMiddleware({ target: process.argv[3], changeOrigin: true }));
app.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));
