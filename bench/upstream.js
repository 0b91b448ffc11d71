// A fast upstream for benchmarks: 200 with a small JSON body, keep-alive.
const http = require('node:http');
const body = Buffer.from('{"ok":true}');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 65000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
