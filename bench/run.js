// npm run bench: micro-benchmarks, then plain-GET throughput direct vs. through authgate,
// all in one run on this machine. Results: bench/results/<date>.json. Needs `wrk` (Debian).
const { spawn, execFileSync } = require('node:child_process');
const { generateKeyPairSync } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const jwt = require('jsonwebtoken');
const micro = require('./micro');

const ROOT = path.join(__dirname, '..');
const DURATION = process.env.BENCH_DURATION ?? '5s';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const cpus = os.cpus().length;

function hasCmd(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins a command to a CPU list where taskset exists and there is more than one core. */
function pinned(cpu, cmd, args) {
  return hasCmd('taskset') && cpus > 1 ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, args];
}

function startProcess(cpu, args, readyLine) {
  const [cmd, argv] = pinned(cpu, process.execPath, args);
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (c) => {
      buf += c.toString();
      const m = readyLine(buf);
      if (m !== undefined) resolve({ child, value: m });
    });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}`)));
  });
}

function wrk(url, headers = []) {
  const args = [
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${DURATION}`,
    '--latency',
    ...headers.flatMap((h) => ['-H', h]),
    url,
  ];
  const [cmd, argv] = pinned('0', 'wrk', args);
  const out = execFileSync(cmd, argv, { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99ms = p99 ? Number(p99[1]) * (p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1) : NaN;
  if (non2xx > 0) throw new Error(`${url}: ${non2xx} non-2xx responses`);
  return { rps, p99ms };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function freePort() {
  const net = require('node:net');
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function waitHealthy(url) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became healthy`);
}

async function throughput() {
  if (!hasCmd('wrk')) return { skipped: 'wrk not installed (apt-get install wrk)' };
  const upstream = await startProcess('0', [path.join(__dirname, 'upstream.js')], (b) => {
    const m = /^(\d+)\n/.exec(b);
    return m ? Number(m[1]) : undefined;
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authgate-bench-'));
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fs.writeFileSync(path.join(dir, 'rsa.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  const upstreamUrl = `http://127.0.0.1:${upstream.value}`;
  const port = await freePort();
  const config = {
    server: { port, host: '127.0.0.1' },
    logging: { level: 'warn' },
    auth: {
      jwt: {
        issuers: [
          {
            issuer: 'bench',
            audience: 'api',
            algorithms: ['RS256'],
            publicKeyFile: path.join(dir, 'rsa.pem'),
          },
        ],
      },
    },
    routes: [
      { name: 'none', prefix: '/none', upstream: upstreamUrl, auth: 'none' },
      { name: 'jwt', prefix: '/jwt', upstream: upstreamUrl, auth: 'required', scopes: ['read'] },
    ],
  };
  fs.writeFileSync(path.join(dir, 'authgate.yaml'), JSON.stringify(config));
  const [cmd, argv] = pinned('1', process.execPath, [
    path.join(ROOT, 'dist/cli.js'),
    'serve',
    '--config',
    path.join(dir, 'authgate.yaml'),
  ]);
  const proxy = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  let bare;
  try {
    await waitHealthy(`${base}/healthz`);
    const token = jwt.sign(
      { sub: 'bench-user', aud: 'api', iss: 'bench', scope: 'read' },
      privateKey,
      {
        algorithm: 'RS256',
        expiresIn: 3600,
      },
    );
    const barePort = await freePort();
    const [bcmd, bargv] = pinned('1', process.execPath, [
      path.join(__dirname, 'bare-node-proxy.js'),
      String(barePort),
      String(upstream.value),
    ]);
    bare = spawn(bcmd, bargv, { stdio: 'ignore' });
    await waitHealthy(`http://127.0.0.1:${barePort}/x`);
    const cases = {
      direct: () => wrk(`${upstreamUrl}/x`),
      bare_node_proxy: () => wrk(`http://127.0.0.1:${barePort}/x`),
      authgate_auth_none: () => wrk(`${base}/none/x`),
      authgate_jwt_rs256_cached: () => wrk(`${base}/jwt/x`, [`Authorization: Bearer ${token}`]),
    };
    const runs = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    for (let r = 0; r < REPEATS; r++)
      for (const [name, run] of Object.entries(cases)) runs[name].push(run());
    const out = {};
    const directRps = median(runs.direct.map((x) => x.rps));
    for (const [name, rs] of Object.entries(runs)) {
      const rps = median(rs.map((x) => x.rps));
      out[name] = {
        rps: Math.round(rps),
        p99_ms_at_saturation: median(rs.map((x) => x.p99ms)),
        ratio_to_direct: Math.round((rps / directRps) * 100) / 100,
      };
    }
    return {
      method: `wrk -t1 -c${CONNECTIONS} -d${DURATION}, median of ${REPEATS}; wrk and upstream pinned to CPU 0, authgate to CPU 1 (${cpus} cores)`,
      ...out,
    };
  } finally {
    proxy.kill('SIGTERM');
    bare?.kill('SIGTERM');
    upstream.child.kill('SIGTERM');
  }
}

async function main() {
  const started = new Date();
  const results = {
    date: started.toISOString(),
    node: process.version,
    machine: `${os.cpus()[0]?.model ?? 'cpu'} x${cpus}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    micro_us: await micro.main(),
    throughput: await throughput(),
  };
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${started.toISOString().slice(0, 10)}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log(JSON.stringify(results, null, 2));
  console.log(`written to ${path.relative(ROOT, file)}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
