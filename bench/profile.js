// npm run bench:profile — where authgate's CPU goes, per stage: the cached-JWT route under wrk
// (proxy pinned to CPU 1, wrk and the upstream on CPU 0) with `node --cpu-prof`, at `warn` and at
// `info`, and the floor (Node http + undici Pool) the same way. Self time is grouped by stage
// from each function's file, and turned into µs per request with the process's CPU time from
// /proc. Writes bench/results/profile-<date>.json and a flame graph per run under docs/images/.
//   PROFILE_SECONDS (default 8)
const { spawn, execFileSync } = require('node:child_process');
const { generateKeyPairSync } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const jwt = require('jsonwebtoken');
const { flameGraph } = require('./flame');
const { cpuMicros, freePort, logReader, waitUp: waitOk } = require('./lib');

const ROOT = path.join(__dirname, '..');
// PROFILE_BUILD=/path/to/an/other/checkout profiles that build instead (built, with its own
// shebang), labelled PROFILE_LABEL: the before of a before/after.
const BUILD = process.env.PROFILE_BUILD ?? ROOT;
const LABEL = process.env.PROFILE_LABEL ? `${process.env.PROFILE_LABEL}-` : '';
// The V8 flags of the `authgate` executable's shebang: profiled as users run it.
const SHEBANG_FLAGS = fs
  .readFileSync(path.join(BUILD, 'src/cli.ts'), 'utf8')
  .split('\n')[0]
  .split(' ')
  .filter((w) => /^--[\w-]+=/.test(w));
process.env.MALLOC_ARENA_MAX = '2';
process.env.MALLOC_MMAP_THRESHOLD_ = '131072';
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 8);
const children = [];

/** The stage a function's self time belongs to, from its file (and a few names). */
function stageOf(frame) {
  const url = frame.url || '';
  const fn = frame.functionName || '';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)' || fn === '(program)') return fn;
  if (url.includes('/undici/')) return 'undici';
  if (url.includes('/prom-client/') || url.includes('/dist/metrics')) return 'metrics';
  if (url.includes('/winston') || url.includes('/logform/') || url.includes('/dist/logging/'))
    return 'logging';
  if (url.includes('/dist/auth/') || url.includes('/jsonwebtoken/') || url.includes('/lru-cache/'))
    return 'auth';
  if (url.includes('/dist/headers/') || url.includes('/dist/stages/hygiene')) return 'headers';
  if (url.includes('/dist/proxy/')) return 'forwarder glue';
  if (url.includes('/dist/') || url.includes('floor-undici')) return 'authgate, other';
  if (/^node:(_http_|http|net|stream|internal\/(http|streams|stream_base)|events)/.test(url))
    return 'Node HTTP server and sockets';
  if (/^node:internal\/(process\/task_queues|async_hooks|timers)|^node:timers/.test(url))
    return 'async plumbing and timers';
  if (url === '' && fn !== '') return 'native (V8 builtins, syscalls)';
  return 'other';
}

function summarise(profile, cpuUsPerRequest) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const id of profile.samples) {
    const stage = stageOf(byId.get(id).callFrame);
    counts.set(stage, (counts.get(stage) ?? 0) + 1);
  }
  const busy = [...counts].filter(([s]) => s !== '(idle)').reduce((a, [, n]) => a + n, 0);
  const stages = {};
  for (const [stage, n] of [...counts].sort((a, b) => b[1] - a[1])) {
    if (stage === '(idle)') continue;
    stages[stage] = Math.round((n / busy) * cpuUsPerRequest * 10) / 10;
  }
  return stages;
}

async function profileRun(name, cmd, args, url, headers, dir) {
  const profDir = fs.mkdtempSync(path.join(dir, 'prof-'));
  // Log lines go to a pipe another process drains, as a container runtime's does.
  const { fd, reader } = logReader();
  children.push(reader);
  const child = spawn(
    'taskset',
    ['-c', '1', cmd, '--cpu-prof', `--cpu-prof-dir=${profDir}`, ...args],
    {
      cwd: ROOT,
      stdio: ['ignore', fd, 'inherit'],
    },
  );
  children.push(child);
  await waitOk(url, Object.fromEntries(headers.map((h) => h.split(': '))));
  // warm up, then measure
  execFileSync('taskset', [
    '-c',
    '0',
    'wrk',
    '-t1',
    '-c50',
    '-d2s',
    ...headers.flatMap((h) => ['-H', h]),
    url,
  ]);
  const before = cpuMicros(child.pid);
  const out = execFileSync(
    'taskset',
    ['-c', '0', 'wrk', '-t1', '-c50', `-d${SECONDS}s`, ...headers.flatMap((h) => ['-H', h]), url],
    { encoding: 'utf8' },
  );
  const cpu = cpuMicros(child.pid) - before;
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (non2xx > 0) throw new Error(`${name}: ${non2xx} non-2xx responses`);
  const requests = Number(/(\d+) requests in/.exec(out)[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  if (!(requests > 0)) throw new Error(`${name}: no requests measured:\n${out}`);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await exited;
  const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  const profile = JSON.parse(fs.readFileSync(path.join(profDir, file), 'utf8'));
  const cpuUsPerRequest = Math.round((cpu / requests) * 10) / 10;
  const stages = summarise(profile, cpuUsPerRequest);
  const svg = path.join(ROOT, 'docs', 'images', `flame-${LABEL}${name}.svg`);
  fs.writeFileSync(
    svg,
    flameGraph(profile, `${name}: ${rps} req/s, ${cpuUsPerRequest} µs CPU/request`, stageOf),
  );
  process.stderr.write(
    `${name}: ${rps} req/s, ${cpuUsPerRequest} µs/request\n${JSON.stringify(stages, null, 1)}\n`,
  );
  return {
    name,
    rps,
    cpu_us_per_request: cpuUsPerRequest,
    stages_us_per_request: stages,
    flame_graph: path.relative(ROOT, svg),
  };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authgate-profile-'));
  const upstream = spawn(
    'taskset',
    ['-c', '0', process.execPath, path.join(__dirname, 'upstream.js')],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(upstream);
  const upstreamPort = await new Promise((r) =>
    upstream.stdout.once('data', (d) => r(Number(String(d).trim()))),
  );
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fs.writeFileSync(path.join(dir, 'rsa.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  const token = jwt.sign(
    { sub: 'bench-user', aud: 'api', iss: 'bench', scope: 'read' },
    privateKey,
    {
      algorithm: 'RS256',
      expiresIn: 7200,
    },
  );
  const bearer = [`Authorization: Bearer ${token}`];
  const runs = [];
  for (const level of ['warn', 'info']) {
    const port = await freePort();
    const file = path.join(dir, `authgate-${level}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        server: { port, host: '127.0.0.1' },
        metrics: { port: 0 },
        logging: { level },
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
          {
            name: 'jwt',
            prefix: '/jwt',
            upstream: upstreamUrl,
            auth: 'required',
            scopes: ['read'],
          },
        ],
      }),
    );
    runs.push(
      await profileRun(
        `authgate-${level}`,
        process.execPath,
        [...SHEBANG_FLAGS, path.join(BUILD, 'dist/cli.js'), 'serve', '--config', file],
        `http://127.0.0.1:${port}/jwt/x`,
        bearer,
        dir,
      ),
    );
  }
  const floorPort = await freePort();
  runs.push(
    await profileRun(
      'floor',
      process.execPath,
      [path.join(__dirname, 'targets', 'floor-undici.js'), String(floorPort), upstreamUrl],
      `http://127.0.0.1:${floorPort}/x`,
      // The same request as authgate's: the bearer token is forwarded by the floor too.
      bearer,
      dir,
    ),
  );
  const result = { date: new Date().toISOString(), node: process.version, seconds: SECONDS, runs };
  const out = path.join(__dirname, 'results', `profile-${LABEL}${result.date.slice(0, 10)}.json`);
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill('SIGTERM');
  });
