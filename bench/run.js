// npm run bench — authgate side by side with the upstream called directly, a bare Node proxy,
// Express 5 + http-proxy-middleware, @fastify/http-proxy and nginx (when installed), in one run
// on this machine. Writes bench/results/<date>.json and docs/performance.svg.
//
// Placement on a 2-core machine: the load generator and the upstream share CPU 0, every proxy
// runs on CPU 1 (taskset), so the proxy under test has a core to itself and the generator
// never starves it. Needs `wrk` (Debian); fixed-rate latency uses bench/fixed-rate.js.
const { spawn, execFileSync } = require('node:child_process');
const { generateKeyPairSync } = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { Readable } = require('node:stream');
const jwt = require('jsonwebtoken');
const micro = require('./micro');
const { writeChart } = require('./chart');
const { cpuMicros, freePort, logReader, waitUp: waitOk } = require('./lib');

const ROOT = path.join(__dirname, '..');
// authgate is started as users start it, the `authgate` executable (its shebang's V8 and malloc
// settings included), with this Node first on PATH.
const AUTHGATE = path.join(ROOT, 'dist/cli.js');
process.env.PATH = `${path.dirname(process.execPath)}:${process.env.PATH}`;
const AG_WARN = 'authgate, JWT RS256 (cached)';
const AG_INFO = 'authgate, JWT RS256 (cached), log level info';
const FLOOR = 'floor: Node http + undici Pool (no auth, no logs)';
const FASTIFY = '@fastify/http-proxy';
const FASTIFY_LOGGER = '@fastify/http-proxy, logger at info';
const NGINX = 'nginx proxy_pass (keepalive, access log)';
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const STREAM_BYTES = Number(process.env.BENCH_STREAM_BYTES ?? 1024 ** 3);
const cpus = os.cpus().length;
const children = [];

const hasCmd = (cmd) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const TASKSET = hasCmd('taskset') && cpus > 1;
const pinned = (cpu, cmd, args) => (TASKSET ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, args]);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function start(cpu, cmd, args, opts = {}) {
  const [c, a] = pinned(cpu, cmd, args);
  const child = spawn(c, a, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], ...opts });
  children.push(child);
  return child;
}

/** A proxy whose log lines go to a reader process (bench/lib.js logReader). */
function startLogged(cpu, cmd, args) {
  const { fd, reader } = logReader();
  children.push(reader);
  return start(cpu, cmd, args, { stdio: ['ignore', fd, 'inherit'] });
}

function wrk(url, headers) {
  const args = [
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${DURATION}s`,
    ...headers.flatMap((h) => ['-H', h]),
    url,
  ];
  const [cmd, argv] = pinned('0', 'wrk', args);
  const out = execFileSync(cmd, argv, { encoding: 'utf8' });
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (non2xx > 0) throw new Error(`${url}: ${non2xx} non-2xx responses`);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    requests: Number(/(\d+) requests in/.exec(out)?.[1]),
  };
}

function fixedRate(url, headers) {
  const [cmd, argv] = pinned('0', process.execPath, [
    path.join(__dirname, 'fixed-rate.js'),
    url,
    String(RATE),
    String(DURATION),
    ...headers,
  ]);
  const res = JSON.parse(execFileSync(cmd, argv, { encoding: 'utf8' }));
  if (res.non2xx > 0 || res.errors > 0)
    throw new Error(`${url}: ${res.non2xx} non-2xx, ${res.errors} errors at fixed rate`);
  return { p50: res.p50, p99: res.p99, p999: res.p99_9 };
}

function nginxConfig(dir, port, upstreamPort) {
  const conf = `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, conf);
  return file;
}

/** Streams `bytes` up (POST) or down (GET /big) through `base`; returns MB/s and proxy peak RSS. */
async function stream(base, direction, bytes, pid) {
  if (pid) fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const rssBefore = pid
    ? Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1])
    : 0;
  const cpuBefore = pid ? cpuMicros(pid) : undefined;
  const started = performance.now();
  await new Promise((resolve, reject) => {
    const url = new URL(direction === 'up' ? `${base}/upload` : `${base}/big/${bytes}`);
    const req = http.request(
      url,
      {
        method: direction === 'up' ? 'POST' : 'GET',
        headers: direction === 'up' ? { 'Content-Length': bytes } : {},
      },
      (res) => {
        let n = 0;
        res.on('data', (c) => (n += c.length));
        res.on('end', () =>
          direction === 'down' && n !== bytes ? reject(new Error(`got ${n} bytes`)) : resolve(),
        );
      },
    );
    req.on('error', reject);
    if (direction === 'down') return req.end();
    const block = Buffer.alloc(64 * 1024, 1);
    let left = bytes;
    Readable.from(
      (function* () {
        while (left > 0) {
          const n = Math.min(left, block.length);
          left -= n;
          yield n === block.length ? block : block.subarray(0, n);
        }
      })(),
    ).pipe(req);
  });
  const seconds = (performance.now() - started) / 1000;
  const status = pid ? fs.readFileSync(`/proc/${pid}/status`, 'utf8') : '';
  const hwm = pid ? Number(/VmHWM:\s+(\d+)/.exec(status)[1]) : 0;
  const cpuAfter = pid ? cpuMicros(pid) : undefined;
  return {
    mb_per_s: round(bytes / 2 ** 20 / seconds, 0),
    rss_growth_mb: pid ? round((hwm - rssBefore) / 1024, 1) : undefined,
    // The proxy's CPU seconds per GiB moved (user + system).
    cpu_s_per_gib:
      cpuBefore !== undefined && cpuAfter !== undefined
        ? round((cpuAfter - cpuBefore) / 1e6 / (bytes / 2 ** 30), 2)
        : undefined,
  };
}

/**
 * `BENCH_ONLY=streaming`: 1 GiB up and down through authgate with the stream memory guard's
 * minor GC every 16, 32 or 48 MB, or off (proxy.streamGcEveryMb), in interleaved rounds:
 * throughput, proxy CPU per GiB and RSS growth.
 */
async function streamingGuardBench(launch, upstreamUrl) {
  const settings = [0, 16, 32, 48];
  const instances = [];
  for (const mb of settings) instances.push({ mb, ...(await launch(mb)) });
  const runs = new Map();
  const push = (key, r) => runs.set(key, [...(runs.get(key) ?? []), r]);
  for (let round = 0; round < REPEATS; round++) {
    for (const direction of ['up', 'down']) {
      push(`direct ${direction}`, await stream(upstreamUrl, direction, STREAM_BYTES));
      for (const i of instances) {
        const r = await stream(
          `http://127.0.0.1:${i.port}/none`,
          direction,
          STREAM_BYTES,
          i.child.pid,
        );
        push(`gc every ${i.mb} MB ${direction}`, r);
        process.stderr.write(
          `  ${direction}, gc every ${i.mb || 'off'} MB: ${r.mb_per_s} MB/s, ${r.cpu_s_per_gib} CPU s/GiB, RSS +${r.rss_growth_mb} MB\n`,
        );
      }
    }
  }
  const summary = (xs, field) => {
    const v = xs.map((x) => x[field]).filter((x) => x !== undefined);
    return v.length ? { median: median(v), min: Math.min(...v), max: Math.max(...v) } : undefined;
  };
  return [...runs].map(([key, xs]) => ({
    run: key,
    mb_per_s: summary(xs, 'mb_per_s'),
    cpu_s_per_gib: summary(xs, 'cpu_s_per_gib'),
    rss_growth_mb: summary(xs, 'rss_growth_mb'),
  }));
}

/**
 * `serve --workers 1` vs `--workers 2` on the cached-JWT route. Unlike the side-by-side runs
 * nothing is pinned: two workers need both cores, which they share with wrk and the upstream,
 * so on this 2-core machine the ratio is a floor, not the scaling of a bigger host.
 */
async function workersBench(dir, authgateConfig, bearer) {
  // --workers 1, --workers 2 with the cluster's round-robin, --workers 2 with SO_REUSEPORT
  // (server.reusePort): all running at once, measured in interleaved rounds, on kept-alive
  // connections and on a new connection per request (Connection: close).
  // `--workers auto` is one per CPU: 2 on the 2-core bench machine.
  const variants = [
    { name: 'workers 1', workers: '1', reusePort: false },
    { name: 'workers auto, round-robin', workers: 'auto', reusePort: false },
    { name: 'workers auto, reusePort', workers: 'auto', reusePort: true },
  ];
  for (const v of variants) {
    const port = await freePort();
    const file = path.join(dir, `authgate-${v.name.replace(/\W+/g, '-')}.yaml`);
    const config = authgateConfig(port, 10000);
    config.server.reusePort = v.reusePort;
    fs.writeFileSync(file, JSON.stringify(config));
    const child = spawn(AUTHGATE, ['serve', '--config', file, '--workers', v.workers], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    v.child = child;
    v.url = `http://127.0.0.1:${port}/jwt/x`;
    await waitOk(v.url, Object.fromEntries(bearer.map((h) => h.split(': '))));
  }
  await new Promise((r) => setTimeout(r, 1000)); // every worker listening
  const modes = [
    { name: 'keep-alive', headers: bearer },
    { name: 'new connection per request', headers: [...bearer, 'Connection: close'] },
  ];
  const rows = [];
  const perRound = new Map();
  for (const mode of modes) {
    const rps = new Map(variants.map((v) => [v.name, []]));
    perRound.set(mode.name, rps);
    for (let r = 0; r < REPEATS; r++) {
      for (const v of variants) {
        const out = execFileSync(
          'wrk',
          [
            '-t2',
            `-c${CONNECTIONS * 2}`,
            `-d${DURATION}s`,
            ...mode.headers.flatMap((h) => ['-H', h]),
            v.url,
          ],
          { encoding: 'utf8' },
        );
        rps.get(v.name).push(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]));
      }
    }
    for (const v of variants) {
      const xs = rps.get(v.name);
      rows.push({
        connections: mode.name,
        variant: v.name,
        workers: v.workers,
        rps: Math.round(median(xs)),
        rps_min: Math.round(Math.min(...xs)),
        rps_max: Math.round(Math.max(...xs)),
      });
      process.stderr.write(`  ${mode.name}, ${v.name}: ${Math.round(median(xs))} req/s\n`);
    }
  }
  for (const v of variants) {
    const exited = new Promise((r) => v.child.once('exit', r));
    v.child.kill('SIGTERM');
    await exited;
  }
  const rpsOf = (connections, variant) =>
    rows.find((r) => r.connections === connections && r.variant === variant).rps;
  const roundRatios = (connections, a, b) => {
    const xs = perRound.get(connections).get(a);
    const ys = perRound.get(connections).get(b);
    const rs = xs.map((x, i) => x / ys[i]);
    return { ratio: round(median(rs)), min: round(Math.min(...rs)), max: round(Math.max(...rs)) };
  };
  return {
    auto_reuseport_new_connections: roundRatios(
      'new connection per request',
      'workers auto, reusePort',
      'workers 1',
    ),
    auto_reuseport_keep_alive: roundRatios('keep-alive', 'workers auto, reusePort', 'workers 1'),
    method: `wrk -t2 -c${CONNECTIONS * 2} -d${DURATION}s, unpinned, JWT RS256 cached, ${REPEATS} interleaved rounds, median [min-max]`,
    rows,
    ratio_2_to_1: round(
      rpsOf('keep-alive', 'workers auto, round-robin') / rpsOf('keep-alive', 'workers 1'),
    ),
    ratio_reuseport_to_round_robin: round(
      rpsOf('keep-alive', 'workers auto, reusePort') /
        rpsOf('keep-alive', 'workers auto, round-robin'),
    ),
    ratio_reuseport_to_round_robin_new_connections: round(
      rpsOf('new connection per request', 'workers auto, reusePort') /
        rpsOf('new connection per request', 'workers auto, round-robin'),
    ),
  };
}

/**
 * The performance goals as ratios, each per round (the rounds interleave the targets, so one
 * round's figures were measured minutes apart at most): median [min–max] over the rounds.
 */
function goalRatios(runs, workers) {
  const ratio = (name, a, b, goal, field = 'rps') => {
    const xs = runs.get(a)?.[field];
    const ys = runs.get(b)?.[field];
    if (!xs?.length || !ys?.length) return { goal: name, target: goal, missing: true };
    const rs = xs.map((x, i) => x / ys[i]);
    const med = round(median(rs));
    return {
      goal: name,
      target: goal,
      ratio: med,
      min: round(Math.min(...rs)),
      max: round(Math.max(...rs)),
      met: med >= goal,
    };
  };
  const rows = [
    ratio('info vs @fastify/http-proxy (no logging)', AG_INFO, FASTIFY, 1.0),
    ratio('info vs @fastify/http-proxy with its logger at info', AG_INFO, FASTIFY_LOGGER, 1.5),
    ratio('info vs warn (info costs at most 10 %)', AG_INFO, AG_WARN, 0.9),
    ratio('warn vs @fastify/http-proxy (no logging)', AG_WARN, FASTIFY, 1.2),
    ratio('warn vs the floor (Node http + undici Pool)', AG_WARN, FLOOR, 0.8),
    ratio('info vs nginx with its access log (stretch)', AG_INFO, NGINX, 0.45),
  ];
  const scaling = workers?.auto_reuseport_new_connections;
  if (scaling)
    rows.push({
      goal: '--workers auto, reusePort, new connections vs 1 worker',
      target: 1.7,
      ...scaling,
      met: scaling.ratio >= 1.7,
    });
  return rows;
}

function printGoals(goals) {
  process.stderr.write(
    '\ngoal                                                        target  ratio [min–max]    met\n',
  );
  for (const g of goals) {
    const got = g.missing
      ? 'not measured'
      : `${g.ratio.toFixed(2)}x [${g.min.toFixed(2)}–${g.max.toFixed(2)}]`;
    process.stderr.write(
      `${g.goal.padEnd(60)}${`${g.target}x`.padEnd(8)}${got.padEnd(19)}${g.missing ? '' : g.met ? 'yes' : 'NO'}\n`,
    );
  }
}

async function main() {
  // `BENCH_ONLY=chunks`: only the cost of 1-byte chunks (bench/chunks.js).
  if (process.env.BENCH_ONLY === 'chunks') return require('./chunks').run();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authgate-bench-'));
  const upstream = start('0', process.execPath, [path.join(__dirname, 'upstream.js')]);
  const upstreamPort = await new Promise((r) =>
    upstream.stdout.once('data', (d) => r(Number(String(d).trim()))),
  );
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;

  // A tiny auth service for the API-key route (asked once; then the key is cached).
  const authService = http.createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res.end(JSON.stringify({ valid: true, user_id: 'bench', scopes: ['read'] })),
    );
  });
  await new Promise((r) => authService.listen(0, '127.0.0.1', r));

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fs.writeFileSync(path.join(dir, 'rsa.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  const token = jwt.sign(
    { sub: 'bench-user', aud: 'api', iss: 'bench', scope: 'read' },
    privateKey,
    { algorithm: 'RS256', expiresIn: 7200 },
  );
  const apiKey = 'hok_live_benchmarkkey0123456789';

  const authgateConfig = (port, cacheSize, level = 'warn', streamGcEveryMb = 16) => ({
    server: { port, host: '127.0.0.1' },
    proxy: { streamGcEveryMb },
    metrics: { port: 0 },
    logging: { level },
    auth: {
      jwt: {
        verifiedCacheSize: cacheSize,
        issuers: [
          {
            issuer: 'bench',
            audience: 'api',
            algorithms: ['RS256'],
            publicKeyFile: path.join(dir, 'rsa.pem'),
          },
        ],
      },
      apiKeys: {
        prefixes: ['hok_live_'],
        validateUrl: `http://127.0.0.1:${authService.address().port}/v`,
        hashSecret: 'b'.repeat(32),
        // The auth service runs in this process, which is blocked while wrk runs: the key must
        // stay cached for the whole bench (a re-validation would wait on it and fail).
        cacheTtlSec: 86_400,
      },
    },
    routes: [
      { name: 'none', prefix: '/none', upstream: upstreamUrl, auth: 'none' },
      { name: 'jwt', prefix: '/jwt', upstream: upstreamUrl, auth: 'required', scopes: ['read'] },
      { name: 'key', prefix: '/key', upstream: upstreamUrl, auth: 'required', scopes: ['read'] },
    ],
  });
  const launchAuthgate = async (cacheSize, level = 'warn', streamGcEveryMb = 16) => {
    const port = await freePort();
    const file = path.join(dir, `authgate-${cacheSize}-${level}-${streamGcEveryMb}.yaml`);
    fs.writeFileSync(file, JSON.stringify(authgateConfig(port, cacheSize, level, streamGcEveryMb)));
    // Its log lines go to a pipe another process reads, as a container runtime reads them.
    const child = startLogged('1', AUTHGATE, ['serve', '--config', file]);
    await waitOk(`http://127.0.0.1:${port}/healthz`);
    return { port, child };
  };
  const bearer = [`Authorization: Bearer ${token}`];
  // `BENCH_ONLY=workers npm run bench`: only serve --workers 1 vs 2;
  // `BENCH_ONLY=throughput`: only the side-by-side table (no workers, streaming, micro).
  const only = process.env.BENCH_ONLY;
  const workers =
    only === 'throughput' || only === 'streaming'
      ? undefined
      : await workersBench(dir, authgateConfig, bearer);
  if (process.env.BENCH_ONLY === 'workers') {
    console.log(
      JSON.stringify({ date: new Date().toISOString(), node: process.version, workers }, null, 2),
    );
    authService.close();
    return;
  }
  // From here the bench process itself is a load generator too (the streaming client): it
  // shares CPU 0 with wrk and the upstream, so "direct" streaming cannot borrow the proxy's core.
  // (After the workers bench, whose processes inherit no pinning.)
  if (TASKSET) execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  if (only === 'streaming') {
    const streamingGuard = await streamingGuardBench(
      (mb) => launchAuthgate(10000, 'warn', mb),
      upstreamUrl,
    );
    console.log(
      JSON.stringify(
        {
          date: new Date().toISOString(),
          node: process.version,
          bytes: STREAM_BYTES,
          streaming_guard: streamingGuard,
        },
        null,
        2,
      ),
    );
    authService.close();
    return;
  }
  const ag = await launchAuthgate(10000);
  const agInfo = await launchAuthgate(10000, 'info');
  const agNoCache = await launchAuthgate(0);

  const simple = async (name, script) => {
    const port = await freePort();
    // Log lines (fastify's logger) go to a pipe another process reads, as authgate's do.
    const child = startLogged('1', process.execPath, [
      path.join(__dirname, 'targets', script),
      String(port),
      script === 'bare-node-proxy.js' ? String(upstreamPort) : upstreamUrl,
    ]);
    await waitOk(`http://127.0.0.1:${port}/x`);
    return { name, base: `http://127.0.0.1:${port}`, path: '/x', headers: bearer, pid: child.pid };
  };

  const targets = [
    // Every target gets the same request as authgate's JWT route, its bearer token included
    // (~700 bytes each proxy parses, validates and forwards): a proxy sent a smaller request does
    // less work per request (the floor ~10 % less).
    { name: 'direct', base: upstreamUrl, path: '/x', headers: bearer },
    {
      name: 'authgate, auth none',
      base: `http://127.0.0.1:${ag.port}`,
      path: '/none/x',
      headers: bearer,
      pid: ag.child.pid,
    },
    {
      name: AG_WARN,
      base: `http://127.0.0.1:${ag.port}`,
      path: '/jwt/x',
      headers: bearer,
      pid: ag.child.pid,
    },
    {
      name: AG_INFO,
      base: `http://127.0.0.1:${agInfo.port}`,
      path: '/jwt/x',
      headers: bearer,
      pid: agInfo.child.pid,
    },
    {
      name: 'authgate, API key (cached)',
      base: `http://127.0.0.1:${ag.port}`,
      path: '/key/x',
      headers: [`X-API-Key: ${apiKey}`],
      pid: ag.child.pid,
    },
    {
      name: 'authgate, JWT RS256 (no cache)',
      base: `http://127.0.0.1:${agNoCache.port}`,
      path: '/jwt/x',
      headers: bearer,
      pid: agNoCache.child.pid,
    },
    await simple('bare Node proxy (keep-alive)', 'bare-node-proxy.js'),
    await simple(FLOOR, 'floor-undici.js'),
    await simple('Express 5 + http-proxy-middleware', 'express-hpm.js'),
    await simple(FASTIFY, 'fastify-proxy.js'),
    await simple(FASTIFY_LOGGER, 'fastify-proxy-logger.js'),
  ];
  if (hasCmd('nginx')) {
    const port = await freePort();
    const ndir = path.join(dir, 'nginx');
    fs.mkdirSync(ndir);
    start('1', 'nginx', ['-c', nginxConfig(ndir, port, upstreamPort), '-p', ndir]);
    await waitOk(`http://127.0.0.1:${port}/x`);
    targets.push({
      name: NGINX,
      base: `http://127.0.0.1:${port}`,
      path: '/x',
      headers: bearer,
    });
  }
  for (const t of targets)
    await waitOk(`${t.base}${t.path}`, Object.fromEntries(t.headers.map((h) => h.split(': '))));
  // Warm-up: every target under load once before the measured rounds (JIT, V8's heap growing
  // to its working size); without it the first round of a target reads up to 2x its CPU per request.
  for (const t of targets) {
    const [cmd, argv] = pinned('0', 'wrk', [
      '-t1',
      `-c${CONNECTIONS}`,
      '-d3s',
      ...t.headers.flatMap((h) => ['-H', h]),
      `${t.base}${t.path}`,
    ]);
    execFileSync(cmd, argv, { stdio: 'ignore' });
  }

  const runs = new Map(
    targets.map((t) => [t.name, { rps: [], cpu: [], p50: [], p99: [], p999: [] }]),
  );
  // Rounds interleave the targets (A B C ... A B C ...), so a slow minute of the shared VM
  // does not fall on one target only; medians and their spread are reported.
  for (let r = 0; r < REPEATS; r++) {
    for (const t of targets) {
      const url = `${t.base}${t.path}`;
      const m = runs.get(t.name);
      const cpuBefore = t.pid ? cpuMicros(t.pid) : undefined;
      const load = wrk(url, t.headers);
      m.rps.push(load.rps);
      // The proxy's CPU per request: steadier than req/s on a shared machine.
      const cpuAfter = t.pid ? cpuMicros(t.pid) : undefined;
      if (cpuBefore !== undefined && cpuAfter !== undefined && load.requests > 0)
        m.cpu.push((cpuAfter - cpuBefore) / load.requests);
      const lat = fixedRate(url, t.headers);
      m.p50.push(lat.p50);
      m.p99.push(lat.p99);
      m.p999.push(lat.p999);
      process.stderr.write(
        `  ${t.name}: ${Math.round(m.rps.at(-1))} req/s${m.cpu.length ? `, ${round(m.cpu.at(-1), 1)} µs CPU/req` : ''}, p99 ${lat.p99} ms\n`,
      );
    }
  }
  const direct = runs.get('direct');
  const throughput = targets.map((t) => {
    const m = runs.get(t.name);
    return {
      target: t.name,
      rps: Math.round(median(m.rps)),
      rps_min: Math.round(Math.min(...m.rps)),
      rps_max: Math.round(Math.max(...m.rps)),
      cpu_us_per_request: m.cpu.length ? round(median(m.cpu), 1) : undefined,
      cpu_us_min: m.cpu.length ? round(Math.min(...m.cpu), 1) : undefined,
      cpu_us_max: m.cpu.length ? round(Math.max(...m.cpu), 1) : undefined,
      rps_ratio_to_direct: round(median(m.rps) / median(direct.rps)),
      p50_ms: median(m.p50),
      p99_ms: median(m.p99),
      p99_9_ms: median(m.p999),
      added_p99_ms: round(median(m.p99) - median(direct.p99)),
      p50_ratio_to_direct: round(median(m.p50) / median(direct.p50)),
      p99_ratio_to_direct: round(median(m.p99) / median(direct.p99)),
      p99_9_ratio_to_direct: round(median(m.p999) / median(direct.p999)),
    };
  });

  const goals = goalRatios(runs, workers);
  printGoals(goals);
  if (only === 'throughput') {
    console.log(
      JSON.stringify(
        { date: new Date().toISOString(), node: process.version, throughput, goals },
        null,
        2,
      ),
    );
    authService.close();
    return;
  }
  const streaming = {
    bytes: STREAM_BYTES,
    upload_direct: await stream(upstreamUrl, 'up', STREAM_BYTES),
    upload_authgate: await stream(
      `http://127.0.0.1:${ag.port}/none`,
      'up',
      STREAM_BYTES,
      ag.child.pid,
    ),
    download_direct: await stream(upstreamUrl, 'down', STREAM_BYTES),
    download_authgate: await stream(
      `http://127.0.0.1:${ag.port}/none`,
      'down',
      STREAM_BYTES,
      ag.child.pid,
    ),
  };
  streaming.upload_ratio = round(
    streaming.upload_authgate.mb_per_s / streaming.upload_direct.mb_per_s,
  );
  streaming.download_ratio = round(
    streaming.download_authgate.mb_per_s / streaming.download_direct.mb_per_s,
  );

  const started = new Date();
  const results = {
    date: started.toISOString(),
    node: process.version,
    machine: `${os.cpus()[0]?.model ?? 'cpu'} x${cpus}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    method: {
      saturation: `wrk -t1 -c${CONNECTIONS} -d${DURATION}s`,
      fixed_rate: `bench/fixed-rate.js, open loop, ${RATE} req/s for ${DURATION}s, latency from the due time`,
      repeats: REPEATS,
      placement: TASKSET
        ? 'load generator and upstream on CPU 0, proxy under test on CPU 1'
        : 'unpinned (no taskset or one core)',
    },
    throughput,
    goals,
    workers,
    streaming,
    micro_us: await micro.main(),
  };
  const outDir = path.join(__dirname, 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${started.toISOString().slice(0, 10)}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  writeChart(results, path.join(ROOT, 'docs', 'performance.svg'));
  console.log(JSON.stringify(results, null, 2));
  console.log(`written: ${path.relative(ROOT, file)}, docs/performance.svg`);
  authService.close();
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill('SIGTERM');
  });
