// npm run bench:logging — what logging at `info` costs against `warn` on authgate's cached-JWT
// route: warn (refusals and failures only), info with both lines per request (the default), and
// info with `logging.auditLog: denials` (one line per allowed request: the access line carries
// the decision). Interleaved rounds; each variant against warn per round, median [min–max];
// authgate on CPU 1, wrk and the upstream on CPU 0. Log lines go to /dev/null through a pipe, as
// in a container.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const jwt = require('jsonwebtoken');
const lib = require('./lib');

/**
 * authgate on CPU 1 with its stdout piped into `cat > /dev/null` on CPU 0: a reader on another
 * process, as a container runtime's log pipe is (a pipe nobody drains would block it).
 */
async function startLogging(config, port) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authgate-bench-'));
  const file = path.join(dir, 'authgate.yaml');
  fs.writeFileSync(file, JSON.stringify(config));
  const pin = (cpu) => (os.cpus().length > 1 ? `taskset -c ${cpu} ` : '');
  const child = spawn(
    'sh',
    [
      '-c',
      `${pin(1)}"${process.execPath}" dist/cli.js serve --config "${file}" | ${pin(0)}cat > /dev/null`,
    ],
    { cwd: lib.ROOT, stdio: ['ignore', 'ignore', 'inherit'], detached: true },
  );
  await lib.waitOk(`http://127.0.0.1:${port}/healthz`);
  child.configFile = file;
  return child;
}

/** authgate first (its last lines still have a reader), then the pipeline ends by itself. */
async function stopGroup(child) {
  const exited = new Promise((r) => child.once('exit', r));
  spawn('pkill', ['-TERM', '-f', `serve --config ${child.configFile}`]);
  await exited;
}

const SECRET = 'bench-logging-secret-0123456789abcdefgh';

async function main() {
  const upstream = lib.start(0, ['bench/upstream.js']);
  const upstreamUrl = `http://127.0.0.1:${(await lib.firstLine(upstream)).trim()}`;
  const variants = {
    warn: { level: 'warn' },
    'info, access + audit lines': { level: 'info' },
    'info, auditLog: denials': { level: 'info', auditLog: 'denials' },
  };
  const running = {};
  for (const [name, logging] of Object.entries(variants)) {
    const port = await lib.freePort();
    const config = {
      server: { port, drainDelayMs: 0 },
      metrics: { port: 0 },
      logging,
      auth: { jwt: { issuers: [{ issuer: 'bench', algorithms: ['HS256'], secret: SECRET }] } },
      routes: [
        { name: 'api', prefix: '/', upstream: upstreamUrl, auth: 'required', scopes: ['read'] },
      ],
    };
    running[name] = { port, child: await startLogging(config, port) };
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
  for (const { child } of Object.values(running)) await stopGroup(child);
  // Against warn per round (the rounds interleave the variants, so a slow minute of a shared
  // machine falls on both sides): median [min–max], as `npm run bench` prints its goals.
  const r3 = (x) => Math.round(x * 1000) / 1000;
  const results = Object.fromEntries(
    Object.entries(rounds).map(([name, xs]) => {
      const ratios = xs.map((x, i) => x / rounds.warn[i]);
      return [
        name,
        {
          rps: Math.round(lib.median(xs)),
          rounds: xs.map(Math.round),
          vsWarn: r3(lib.median(ratios)),
          vsWarnMin: r3(Math.min(...ratios)),
          vsWarnMax: r3(Math.max(...ratios)),
        },
      ];
    }),
  );
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    connections: lib.CONNECTIONS,
    seconds: lib.DURATION,
    repeats: lib.REPEATS,
    results,
  };
  lib.writeResult('logging', out);
  for (const [name, r] of Object.entries(results))
    console.log(
      `${name}: ${r.rps} req/s, ${r.vsWarn}x of warn [${r.vsWarnMin}–${r.vsWarnMax}] per round (rounds ${r.rounds.join(', ')})`,
    );
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(lib.cleanup);
