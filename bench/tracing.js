// npm run bench:tracing — what tracing costs: authgate on its cached-JWT route with tracing off,
// configured but not sampling (sampleRatio 0: the case that must stay within 3 %), and
// recording every request (sampleRatio 1, exported to a local OTLP sink), in interleaved rounds
// (median of BENCH_REPEATS). authgate on CPU 1; wrk, the upstream and the sink on CPU 0.
const http = require('node:http');
const jwt = require('jsonwebtoken');
const lib = require('./lib');

const SECRET = 'bench-tracing-secret-0123456789abcdefgh';

async function main() {
  const upstream = lib.start(0, ['bench/upstream.js']);
  const upstreamUrl = `http://127.0.0.1:${(await lib.firstLine(upstream)).trim()}`;
  // The OTLP sink: reads each export and answers 200 (what a collector does, minus the work).
  let exported = 0;
  const sink = http.createServer((req, res) => {
    req.on('data', (c) => (exported += c.length));
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end());
  });
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${sink.address().port}/v1/traces`;

  const variants = {
    off: undefined,
    'on, not sampled': { otlpEndpoint: endpoint, sampleRatio: 0 },
    'on, every request sampled': { otlpEndpoint: endpoint, sampleRatio: 1 },
  };
  const running = {};
  for (const [name, tracing] of Object.entries(variants)) {
    const port = await lib.freePort();
    const config = {
      server: { port, drainDelayMs: 0 },
      metrics: { port: 0 },
      logging: { level: 'warn' },
      ...(tracing ? { tracing } : {}),
      auth: { jwt: { issuers: [{ issuer: 'bench', algorithms: ['HS256'], secret: SECRET }] } },
      routes: [
        { name: 'api', prefix: '/', upstream: upstreamUrl, auth: 'required', scopes: ['read'] },
      ],
    };
    running[name] = { port, child: await lib.startAuthgate(config, port) };
  }
  const token = jwt.sign(
    { iss: 'bench', sub: 'bot', scope: 'read', exp: Math.floor(Date.now() / 1000) + 3600 },
    SECRET,
  );
  const rounds = Object.fromEntries(Object.keys(variants).map((n) => [n, []]));
  for (let r = 0; r < lib.REPEATS; r++) {
    for (const [name, { port }] of Object.entries(running)) {
      rounds[name].push(lib.wrk(`http://127.0.0.1:${port}/x`, [`Authorization: Bearer ${token}`]));
    }
  }
  for (const { child } of Object.values(running)) await lib.stop(child);
  sink.close();
  const off = lib.median(rounds.off);
  const results = Object.fromEntries(
    Object.entries(rounds).map(([name, xs]) => [
      name,
      {
        rps: Math.round(lib.median(xs)),
        rounds: xs.map(Math.round),
        vsOff: Math.round((lib.median(xs) / off) * 1000) / 1000,
      },
    ]),
  );
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    connections: lib.CONNECTIONS,
    seconds: lib.DURATION,
    repeats: lib.REPEATS,
    exportedBytes: exported,
    results,
  };
  lib.writeResult('tracing', out);
  for (const [name, r] of Object.entries(results))
    console.log(
      `tracing ${name}: ${r.rps} req/s (${r.vsOff}x of off; rounds ${r.rounds.join(', ')})`,
    );
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(lib.cleanup);
