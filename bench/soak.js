// npm run soak — minutes of mixed traffic through a real authgate process, reporting its RSS,
// open file descriptors and sockets at the start, the peak and the end.
// Traffic: good and bad JWTs, good and bad API keys (a real auth service on loopback), 1 MB
// uploads and downloads, and clients that abort mid-body. Loopback only; bounded in time.
//   SOAK_SECONDS (default 600), SOAK_CONCURRENCY (default 16)
const { spawn } = require('node:child_process');
const { createHash, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const jwt = require('jsonwebtoken');
const { cpuMicros, freePort } = require('./lib');

const ROOT = path.join(__dirname, '..');
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16);
const SECRET = randomBytes(32).toString('base64url');
const MB = 1024 * 1024;

function listen(handler) {
  const server = http.createServer(handler);
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

function sample(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/^VmRSS:\s+(\d+)/m.exec(status)[1]) / 1024;
  const fds = fs.readdirSync(`/proc/${pid}/fd`);
  let sockets = 0;
  for (const fd of fds) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      /* closed meanwhile */
    }
  }
  return { rss_mb: Math.round(rss * 10) / 10, fds: fds.length, sockets };
}

/** Where the end RSS is: V8's heap spaces and external memory (from /metrics), and the kernel's view. */
async function breakdown(port, pid) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const mb = (re) => {
    const m = re.exec(text);
    return m ? Math.round((Number(m[1]) / 1024 / 1024) * 10) / 10 : undefined;
  };
  const spaces = {};
  for (const m of text.matchAll(/^nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)/gm)) {
    spaces[m[1]] = Math.round((Number(m[2]) / 1024 / 1024) * 10) / 10;
  }
  const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0);
  return {
    heap_total_mb: mb(/^nodejs_heap_size_total_bytes (\S+)/m),
    heap_used_mb: mb(/^nodejs_heap_size_used_bytes (\S+)/m),
    external_mb: mb(/^nodejs_external_memory_bytes (\S+)/m),
    heap_spaces_total_mb: spaces,
    anonymous_mb: Math.round(kb('Anonymous') / 102.4) / 10,
    file_backed_mb: Math.round((kb('Rss') - kb('Anonymous')) / 102.4) / 10,
  };
}

function send(port, { method = 'GET', path: p, headers = {}, body, abortAfter }) {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: p, headers, agent: false },
      (res) => {
        let n = 0;
        res.on('data', (c) => {
          n += c.length;
          if (abortAfter && n >= abortAfter) req.destroy();
        });
        res.on('end', () => resolve(res.statusCode));
        res.on('error', () => resolve('aborted'));
      },
    );
    req.on('error', () => resolve('aborted'));
    if (body && abortAfter) {
      req.write(body.subarray(0, abortAfter));
      setTimeout(() => req.destroy(), 5);
    } else req.end(body);
  });
}

async function main() {
  const payload = randomBytes(MB);
  const upstream = await listen((req, res) => {
    const h = createHash('sha256');
    req.on('data', (c) => h.update(c));
    req.on('end', () => {
      if (req.url.startsWith('/download')) {
        res.writeHead(200, { 'Content-Length': MB });
        res.end(payload);
      } else {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(h.digest('hex'));
      }
    });
    req.on('error', () => undefined);
  });
  const authService = await listen((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const key = JSON.parse(body).api_key;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify(
          key === 'hok_soak_good' ? { valid: true, user_id: 'svc' } : { valid: false },
        ),
      );
    });
  });
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authgate-soak-'));
  const config = path.join(dir, 'authgate.yaml');
  fs.writeFileSync(
    config,
    JSON.stringify({
      server: { port, host: '127.0.0.1', drainDelayMs: 0 },
      metrics: { port: 0 },
      logging: { level: 'warn' },
      auth: {
        failedAuthGuard: { maxFailures: 0 },
        jwt: { issuers: [{ issuer: 'soak', algorithms: ['HS256'], secret: SECRET }] },
        apiKeys: {
          prefixes: ['hok_'],
          validateUrl: `http://127.0.0.1:${authService.address().port}/validate`,
          negativeCacheTtlSec: 1,
          cacheTtlSec: 5,
        },
      },
      routes: [
        {
          name: 'soak',
          prefix: '/',
          upstream: `http://127.0.0.1:${upstream.address().port}`,
          timeouts: { responseMs: 30000 },
        },
      ],
    }),
  );
  // Started as users start it: the `authgate` executable, so its own V8 settings (the shebang's
  // --max-semi-space-size) are what is measured — the defaults.
  // SOAK_NODE_FLAGS="--max-semi-space-size=8 ..." starts it with other V8 flags instead (to compare).
  const flags = process.env.SOAK_NODE_FLAGS;
  const [cmd, args] = flags
    ? [process.execPath, [...flags.split(' '), path.join(ROOT, 'dist/cli.js')]]
    : [path.join(ROOT, 'dist/cli.js'), []];
  const proxy = spawn(cmd, [...args, 'serve', '--config', config], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` },
  });
  for (let i = 0; i < 100; i++) {
    if ((await send(port, { path: '/healthz' })) === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const good = () => `Bearer ${jwt.sign({ sub: 'u', iss: 'soak' }, SECRET, { expiresIn: 600 })}`;
  const goodToken = good();
  const kinds = [
    () => send(port, { path: '/jwt', headers: { Authorization: goodToken } }),
    () => send(port, { path: '/jwt-bad', headers: { Authorization: `${goodToken}x` } }),
    () => send(port, { path: '/key', headers: { 'X-API-Key': 'hok_soak_good' } }),
    () =>
      send(port, {
        path: '/key-bad',
        headers: { 'X-API-Key': `hok_bad_${randomBytes(6).toString('hex')}` },
      }),
    () =>
      send(port, {
        method: 'POST',
        path: '/upload',
        headers: { Authorization: goodToken, 'Content-Length': MB },
        body: payload,
      }),
    () => send(port, { path: '/download', headers: { Authorization: goodToken } }),
    () =>
      send(port, {
        path: '/download',
        headers: { Authorization: goodToken },
        abortAfter: 64 * 1024,
      }),
    () =>
      send(port, {
        method: 'POST',
        path: '/upload',
        headers: { Authorization: goodToken, 'Content-Length': MB },
        body: payload,
        abortAfter: 64 * 1024,
      }),
  ];
  // SOAK_KINDS=0,1,2,3: only these kinds of request (to see what a kind costs in memory).
  const only = process.env.SOAK_KINDS?.split(',').map(Number);
  if (only) kinds.splice(0, kinds.length, ...only.map((k) => kinds[k]));
  const start = sample(proxy.pid);
  const cpuStart = cpuMicros(proxy.pid);
  let peak = { ...start };
  const counts = {};
  const deadline = Date.now() + SECONDS * 1000;
  const sampler = setInterval(() => {
    const s = sample(proxy.pid);
    peak = {
      rss_mb: Math.max(peak.rss_mb, s.rss_mb),
      fds: Math.max(peak.fds, s.fds),
      sockets: Math.max(peak.sockets, s.sockets),
    };
  }, 500);
  let i = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < deadline) {
        const kind = i++ % kinds.length;
        const status = await kinds[kind]();
        const key = `${kind}:${status}`;
        counts[key] = (counts[key] ?? 0) + 1;
      }
    }),
  );
  clearInterval(sampler);
  const cpuUs = cpuMicros(proxy.pid) - cpuStart;
  await new Promise((r) => setTimeout(r, 6000)); // idle keep-alive sockets close after 4 s
  const end = sample(proxy.pid);
  const memory = await breakdown(port, proxy.pid);
  proxy.kill('SIGTERM');
  upstream.close();
  authService.close();
  const report = {
    seconds: SECONDS,
    concurrency: CONCURRENCY,
    requests: i,
    // authgate's own CPU (user + system) per request: what a memory setting costs.
    cpu_us_per_request: Math.round((cpuUs / i) * 10) / 10,
    start,
    peak,
    end,
    memory,
    env: Object.fromEntries(
      Object.entries(process.env).filter(([k]) => /^(SOAK_|NODE_OPTIONS|MALLOC_)/.test(k)),
    ),
    outcomes: counts,
  };
  console.log(JSON.stringify(report, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
