// The floor: a bare Node http server forwarding through an undici Pool — what authgate's
// forwarder is built on, with nothing else (no auth, no header rules, no logs, no metrics).
// Usage: node bench/targets/floor-undici.js LISTEN_PORT UPSTREAM_URL
const http = require('node:http');
const { Pool } = require('undici');

const pool = new Pool(process.argv[3], { connections: 256, pipelining: 1 });
http
  .createServer((req, res) => {
    pool.dispatch(
      {
        path: req.url,
        method: req.method,
        headers: req.rawHeaders.filter((_, i) => {
          const name = req.rawHeaders[i - (i % 2)].toLowerCase();
          return name !== 'connection' && name !== 'keep-alive' && name !== 'host';
        }),
        body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
      },
      {
        onConnect() {},
        onHeaders(status, headers, resume) {
          const out = [];
          for (let i = 0; i < headers.length; i += 2) {
            const name = headers[i].toString('latin1');
            const lower = name.toLowerCase();
            if (lower === 'connection' || lower === 'keep-alive' || lower === 'transfer-encoding')
              continue;
            out.push(name, headers[i + 1].toString('latin1'));
          }
          res.writeHead(status, out);
          res.on('drain', resume);
          return true;
        },
        onData(chunk) {
          return res.write(chunk);
        },
        onComplete() {
          res.end();
        },
        onError(err) {
          if (!res.headersSent) res.writeHead(502);
          res.end(String(err.message));
        },
      },
    );
  })
  .listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));
// SIGINT ends it normally, so that `node --cpu-prof` writes its profile (bench/profile.js).
process.on('SIGINT', () => process.exit(0));
