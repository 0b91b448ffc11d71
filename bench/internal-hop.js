// npm run bench:internal-hop — what the internal hop's TLS costs authgate, in CPU µs per request
// (authgate's own CPU time from /proc, divided by the requests answered) and requests/s:
//   - plain: client → authgate (HTTP) → upstream (HTTP), keep-alive both ways (the baseline);
//   - mTLS upstream: authgate presents its client certificate to an HTTPS upstream (pooled);
//   - TLS listener: the client talks HTTPS to authgate, keep-alive (wrk);
//   - mTLS handshakes: every request a new connection with a client certificate (the worst case:
//     the cost of a handshake, paid once per connection otherwise).
// Interleaved rounds, median of BENCH_REPEATS; authgate on CPU 1, wrk and upstreams on CPU 0.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const lib = require('./lib');

const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

function cpuUs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

function openssl(args) {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

function pki(dir) {
  const ca = { cert: path.join(dir, 'ca.pem'), key: path.join(dir, 'ca.key') };
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...curve,
    '-keyout',
    ca.key,
    '-out',
    ca.cert,
    '-days',
    '2',
    '-subj',
    '/CN=bench-ca',
  ]);
  let serial = 1;
  const issue = (name, cn, san) => {
    const key = path.join(dir, `${name}.key`);
    const csr = path.join(dir, `${name}.csr`);
    const cert = path.join(dir, `${name}.pem`);
    const ext = path.join(dir, `${name}.ext`);
    fs.writeFileSync(ext, `subjectAltName=${san}\n`);
    openssl(['req', '-new', ...curve, '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      String(serial++),
      '-days',
      '2',
      '-out',
      cert,
      '-extfile',
      ext,
    ]);
    return { cert, key };
  };
  return { ca, issue };
}

async function waitHttps(url, ca) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      https
        .get(url, { ...ca, rejectUnauthorized: false }, (res) => resolve(res.resume() && true))
        .on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not come up`);
}

/** `n` requests, each on a new mTLS connection; resolves with requests/s. */
async function handshakes(port, tls, n) {
  const agent = new https.Agent({ keepAlive: false, ...tls });
  const started = performance.now();
  let done = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      https
        .get(
          { host: '127.0.0.1', port, path: '/x', agent, servername: 'authgate.internal' },
          (res) => {
            res.resume();
            res.on('end', () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
            );
          },
        )
        .on('error', reject);
    });
  // 8 at a time: the client (on CPU 0) keeps authgate busy.
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (done < n) {
        done++;
        await one();
      }
    }),
  );
  return (n / (performance.now() - started)) * 1000;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authgate-bench-pki-'));
  const { ca, issue } = pki(dir);
  const upstreamCert = issue('upstream', 'api.internal', 'DNS:api.internal');
  const listenerCert = issue('listener', 'authgate.internal', 'DNS:authgate.internal');
  const authgateClient = issue('authgate-client', 'authgate', 'URI:spiffe://bench/authgate');
  const caller = issue('caller', 'trainer', 'URI:spiffe://bench/ns/ml/sa/trainer');

  const plainUp = lib.start(0, ['bench/upstream.js']);
  const plainUrl = `http://127.0.0.1:${(await lib.firstLine(plainUp)).trim()}`;
  const tlsUp = lib.start(0, ['bench/tls-upstream.js'], {
    CERT_FILE: upstreamCert.cert,
    KEY_FILE: upstreamCert.key,
    CA_FILE: ca.cert,
  });
  const tlsUrl = `https://127.0.0.1:${(await lib.firstLine(tlsUp)).trim()}`;

  const base = { metrics: { port: 0 }, logging: { level: 'warn' } };
  const variants = {
    plain: { routes: [{ name: 'api', prefix: '/', upstream: plainUrl, auth: 'none' }] },
    'mTLS upstream': {
      routes: [
        {
          name: 'api',
          prefix: '/',
          upstream: tlsUrl,
          auth: 'none',
          upstreamTls: {
            caFile: ca.cert,
            certFile: authgateClient.cert,
            keyFile: authgateClient.key,
            serverName: 'api.internal',
          },
        },
      ],
    },
    'TLS listener': {
      server: { tls: { certFile: listenerCert.cert, keyFile: listenerCert.key } },
      routes: [{ name: 'api', prefix: '/', upstream: plainUrl, auth: 'none' }],
    },
    'mTLS listener, client-cert auth': {
      server: {
        tls: {
          certFile: listenerCert.cert,
          keyFile: listenerCert.key,
          clientCaFile: ca.cert,
          clientCert: 'required',
        },
      },
      auth: { clientCert: { allow: ['spiffe://bench/ns/ml/sa/*'], defaultScopes: ['read'] } },
      routes: [
        { name: 'api', prefix: '/', upstream: plainUrl, auth: 'required', scopes: ['read'] },
      ],
    },
  };
  const clientTls = {
    ca: fs.readFileSync(ca.cert),
    cert: fs.readFileSync(caller.cert),
    key: fs.readFileSync(caller.key),
  };
  const running = {};
  for (const [name, v] of Object.entries(variants)) {
    const port = await lib.freePort();
    const config = { ...base, ...v, server: { port, drainDelayMs: 0, ...(v.server ?? {}) } };
    const tls = Boolean(v.server?.tls);
    const dirc = fs.mkdtempSync(path.join(os.tmpdir(), 'authgate-bench-'));
    const file = path.join(dirc, 'authgate.yaml');
    fs.writeFileSync(file, JSON.stringify(config));
    const child = lib.start(1, ['dist/cli.js', 'serve', '--config', file]);
    if (tls) await waitHttps(`https://127.0.0.1:${port}/healthz`, clientTls);
    else await lib.waitOk(`http://127.0.0.1:${port}/healthz`);
    running[name] = { port, child, tls };
  }
  const rounds = {};
  const cpu = {};
  const push = (name, rps, us) => {
    (rounds[name] ??= []).push(rps);
    (cpu[name] ??= []).push(us);
  };
  const N = Number(process.env.BENCH_HANDSHAKES ?? 3000);
  for (let r = 0; r < lib.REPEATS; r++) {
    for (const [name, { port, child, tls }] of Object.entries(running)) {
      if (name === 'mTLS listener, client-cert auth') {
        const before = cpuUs(child.pid);
        const rps = await handshakes(port, clientTls, N);
        push('mTLS handshake per request', rps, (cpuUs(child.pid) - before) / N);
        continue;
      }
      const before = cpuUs(child.pid);
      const rps = lib.wrk(`${tls ? 'https' : 'http'}://127.0.0.1:${port}/x`, []);
      push(name, rps, (cpuUs(child.pid) - before) / (rps * lib.DURATION));
    }
  }
  for (const { child } of Object.values(running)) await lib.stop(child);
  const plainUs = lib.median(cpu.plain);
  const results = Object.fromEntries(
    Object.entries(rounds).map(([name, xs]) => [
      name,
      {
        rps: Math.round(lib.median(xs)),
        cpuUsPerRequest: Math.round(lib.median(cpu[name]) * 10) / 10,
        extraCpuUsVsPlain: Math.round((lib.median(cpu[name]) - plainUs) * 10) / 10,
        rounds: xs.map(Math.round),
      },
    ]),
  );
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    connections: lib.CONNECTIONS,
    seconds: lib.DURATION,
    repeats: lib.REPEATS,
    handshakesPerRound: N,
    results,
  };
  lib.writeResult('internal-hop', out);
  for (const [name, r] of Object.entries(results))
    console.log(
      `${name}: ${r.rps} req/s, ${r.cpuUsPerRequest} µs CPU per request (+${r.extraCpuUsVsPlain} vs plain)`,
    );
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(lib.cleanup);
