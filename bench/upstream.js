// A fast upstream for benchmarks: small JSON for any path; /big/<bytes> streams that many
// bytes; request bodies are read and counted. Prints its port when ready.
const http = require('node:http');

const body = Buffer.from('{"ok":true}');
const block = Buffer.alloc(64 * 1024, 7);

const server = http.createServer((req, res) => {
  const big = /^\/(?:[^/]+\/)?big\/(\d+)/.exec(req.url ?? '');
  let received = 0;
  req.on('data', (c) => (received += c.length));
  req.on('end', () => {
    if (!big) {
      const out = req.method === 'POST' ? Buffer.from(`{"received":${received}}`) : body;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': out.length });
      res.end(out);
      return;
    }
    let left = Number(big[1]);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': left });
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, block.length);
        left -= n;
        if (!res.write(n === block.length ? block : block.subarray(0, n)))
          return res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
});
server.keepAliveTimeout = 65000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () =>
  process.stdout.write(`${server.address().port}\n`),
);
