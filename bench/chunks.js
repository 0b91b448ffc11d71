// `BENCH_ONLY=chunks npm run bench`: what 1-byte chunks cost authgate, in CPU seconds per MB on
// the wire, uploading (client → authgate → upstream) and downloading (upstream → authgate →
// client). A chunked body of 1-byte chunks is `1\r\nx\r\n` per byte: the cost is per chunk, so
// the bench sends CHUNK_WIRE_MB of them in 64 KiB writes. authgate runs pinned to CPU 1 (when
// taskset exists); the CPU it used is read from /proc (Linux).
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const WIRE_MB = Number(process.env.CHUNK_WIRE_MB ?? 4);
const ROUNDS = Number(process.env.BENCH_REPEATS ?? 3);
const UNIT = '1\r\nx\r\n';
const BLOCK = Buffer.from(UNIT.repeat(Math.floor(65536 / UNIT.length)));

const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
const cpuSeconds = (pid) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, clock ticks
};
async function writeBlocks(socket) {
  for (let sent = 0; sent < WIRE_MB * 1048576; sent += BLOCK.length)
    if (!socket.write(BLOCK)) await new Promise((r) => socket.once('drain', r));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function run() {
  const sink = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const source = net.createServer((s) => {
    s.on('error', () => s.destroy());
    s.once('data', async () => {
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
      await writeBlocks(s);
      s.end('0\r\n\r\n');
    });
  });
  const sinkPort = await listen(sink);
  const sourcePort = await listen(source);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authgate-chunks-'));
  const file = path.join(dir, 'authgate.json');
  const free = async () => {
    const s = net.createServer();
    const p = await listen(s);
    await new Promise((r) => s.close(r));
    return p;
  };
  const proxyPort = await free();
  fs.writeFileSync(
    file,
    JSON.stringify({
      server: { port: proxyPort, host: '127.0.0.1', drainDelayMs: 0 },
      metrics: { port: 0 },
      logging: { level: 'warn' },
      routes: [
        { name: 'up', prefix: '/up', upstream: `http://127.0.0.1:${sinkPort}`, auth: 'none' },
        { name: 'down', prefix: '/down', upstream: `http://127.0.0.1:${sourcePort}`, auth: 'none' },
      ],
    }),
  );
  let taskset = false;
  try {
    execFileSync('sh', ['-c', 'command -v taskset'], { stdio: 'ignore' });
    taskset = os.cpus().length > 1;
  } catch {
    /* no taskset */
  }
  const args = [path.join(ROOT, 'dist/cli.js'), 'serve', '--config', file];
  const child = taskset
    ? spawn('taskset', ['-c', '1', process.execPath, ...args], { stdio: 'ignore' })
    : spawn(process.execPath, args, { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${proxyPort}/healthz`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // taskset execs the program: the child's pid is authgate's.
  const pid = child.pid;

  const upload = () =>
    new Promise((resolve, reject) => {
      const s = net.connect(proxyPort, '127.0.0.1', async () => {
        s.write(
          'POST /up HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
        );
        await writeBlocks(s);
        s.write('0\r\n\r\n');
      });
      let text = '';
      s.on('data', (c) => (text += c));
      s.on('close', () => (text.startsWith('HTTP/1.1 200') ? resolve() : reject(new Error(text))));
    });
  const download = () =>
    new Promise((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${proxyPort}/down`, { agent: false }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error('status'))));
        })
        .on('error', reject);
    });

  const results = {};
  for (const [name, once] of [
    ['upload', upload],
    ['download', download],
  ]) {
    const perMb = [];
    for (let r = 0; r < ROUNDS; r++) {
      const before = cpuSeconds(pid);
      await once();
      perMb.push((cpuSeconds(pid) - before) / WIRE_MB);
    }
    results[name] = {
      cpu_s_per_wire_mb: {
        min: Math.min(...perMb),
        median: median(perMb),
        max: Math.max(...perMb),
      },
    };
  }
  child.kill('SIGTERM');
  sink.close();
  source.close();
  console.log(
    JSON.stringify(
      { date: new Date().toISOString(), node: process.version, wire_mb: WIRE_MB, results },
      null,
      2,
    ),
  );
}

module.exports = { run };
