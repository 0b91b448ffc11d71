// Reference point: the smallest keep-alive Node proxy (no auth, no header rules, no logging).
// Usage: node bench/bare-node-proxy.js LISTEN_PORT UPSTREAM_PORT
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
http
  .createServer((req, res) => {
    const p = http.request(
      {
        host: '127.0.0.1',
        port: Number(process.argv[3]),
        path: req.url,
        method: req.method,
        headers: req.rawHeaders,
        agent,
        setHost: false,
      },
      (r) => {
        res.writeHead(r.statusCode, r.rawHeaders);
        r.pipe(res);
      },
    );
    p.on('socket', (s) => s.setNoDelay(true));
    req.pipe(p);
  })
  .listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));
