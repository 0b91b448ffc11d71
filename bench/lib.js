// Shared by the focused benches (sign-in.js, tracing.js): processes pinned to a CPU, free
// ports, readiness, wrk runs and medians.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { createInterface } = require('node:readline');

const ROOT = path.join(__dirname, '..');
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const taskset = os.cpus().length > 1;
const children = [];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** A Node script on one CPU (when the machine has two). */
function start(cpu, args, env = {}) {
  const cmd = taskset ? 'taskset' : process.execPath;
  const argv = taskset ? ['-c', String(cpu), process.execPath, ...args] : args;
  const child = spawn(cmd, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return child;
}

function firstLine(child) {
  return new Promise((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
}

async function waitOk(url) {
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} did not come up`);
}

/** Until `url` answers below 500 (with these headers): a proxy and what is behind it are up. */
async function waitUp(url, headers = {}) {
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      if (res.status < 500) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered`);
}

/** CPU time (user + system) a process has used, in µs, from /proc/<pid>/stat; undefined once gone. */
function cpuMicros(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after "pid (comm) ";
    // in clock ticks of 1/100 s.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return undefined;
  }
}

/** `authgate serve` with this config, on CPU 1; resolves once it answers. */
async function startAuthgate(config, port) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authgate-bench-'));
  const file = path.join(dir, 'authgate.yaml');
  fs.writeFileSync(file, JSON.stringify(config));
  const proxy = start(1, ['dist/cli.js', 'serve', '--config', file]);
  await waitOk(`http://127.0.0.1:${port}/healthz`);
  return proxy;
}

async function stop(child) {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/** wrk on CPU 0: requests per second (throws on any non-2xx answer). */
function wrk(url, headers) {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${DURATION}s`];
  for (const h of headers) args.push('-H', h);
  const out = execFileSync(
    taskset ? 'taskset' : 'wrk',
    [...(taskset ? ['-c', '0', 'wrk'] : []), ...args, url],
    {
      encoding: 'utf8',
    },
  );
  if (/Non-2xx/.test(out)) throw new Error(`non-2xx answers:\n${out}`);
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
}

function writeResult(name, out) {
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(
    path.join(__dirname, 'results', `${name}-${out.date.slice(0, 10)}.json`),
    JSON.stringify(out, null, 2),
  );
}

function cleanup() {
  for (const c of children) c.kill('SIGTERM');
}

/**
 * A log reader on CPU 0: `cat > /dev/null` in its own process, reading a FIFO whose write end is
 * given to a proxy as its stdout — a pipe another process drains, as a container runtime's log
 * FIFO is. (A pipe the bench process itself read would fill while it waits on wrk synchronously;
 * the socketpair Node's `stdio: 'pipe'` makes is non-blocking, unlike a container's FIFO.)
 * Returns the write end's fd, for `stdio: ['ignore', fd, 'inherit']`, and the reader process.
 */
function logReader() {
  const { execFileSync, spawn } = require('node:child_process');
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const fifo = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'authgate-log-')), 'stdout');
  execFileSync('mkfifo', [fifo]);
  const cat = `cat < '${fifo}' > /dev/null`;
  const reader = spawn(
    os.cpus().length > 1 ? 'taskset' : 'sh',
    os.cpus().length > 1 ? ['-c', '0', 'sh', '-c', cat] : ['-c', cat],
    { stdio: 'ignore' },
  );
  // Opening the write end waits for the reader to open its end.
  const fd = fs.openSync(fifo, 'w');
  return { fd, reader };
}

module.exports = {
  logReader,
  waitUp,
  cpuMicros,
  ROOT,
  DURATION,
  CONNECTIONS,
  REPEATS,
  median,
  freePort,
  start,
  firstLine,
  waitOk,
  startAuthgate,
  stop,
  wrk,
  writeResult,
  cleanup,
};
