// npm run bench:sign-in — browser sign-in measured against the real OpenID Provider of the tests
// (oidc-provider, test/idp/oidc-provider.mjs): the time a sign-in takes (navigation → provider →
// callback → session), Redis commands per request on a session, and requests per second with a
// session cookie against a bearer token on the same route (wrk, interleaved rounds, median), with
// sessions in process and in Redis. authgate runs pinned to CPU 1, the rest on CPU 0.
const { execFileSync } = require('node:child_process');
const http = require('node:http');
const jwt = require('jsonwebtoken');
const lib = require('./lib');

const SIGN_INS = Number(process.env.BENCH_SIGN_INS ?? 30);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'bench-client-secret-0123456789abcdef';
const JWT_SECRET = 'bench-jwt-secret-0123456789abcdefghij';
const { median } = lib;

/** One HTTP request with a cookie jar (a browser without a screen). */
function request(url, jar, options = {}) {
  const u = new URL(url);
  const headers = {
    Accept: 'text/html',
    'Sec-Fetch-Mode': 'navigate',
    ...options.headers,
  };
  const cookie = Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
  if (cookie) headers.Cookie = cookie;
  if (options.body) headers['Content-Length'] = Buffer.byteLength(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: options.method ?? 'GET',
        headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          for (const line of res.headers['set-cookie'] ?? []) {
            const [pair, ...attrs] = line.split(';');
            const eq = pair.indexOf('=');
            const name = pair.slice(0, eq).trim();
            if (attrs.some((a) => /max-age=0/i.test(a))) delete jar[name];
            else jar[name] = pair.slice(eq + 1);
          }
          resolve({ status: res.statusCode, location: res.headers.location, body });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

async function signIn(publicUrl, user) {
  const jar = {};
  let res = await request(`${publicUrl}/`, jar);
  let url = new URL(res.location, publicUrl).href;
  for (let hop = 0; hop < 12 && new URL(url).origin !== publicUrl; hop++) {
    res = await request(url, jar);
    if (res.location) {
      url = new URL(res.location, url).href;
      continue;
    }
    const action = /<form[^>]*action="([^"]+)"/.exec(res.body)[1];
    const prompt = /name="prompt" value="([^"]+)"/.exec(res.body)[1];
    res = await request(new URL(action, url).href, jar, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ prompt, login: user, password: 'x' }).toString(),
    });
    url = new URL(res.location, url).href;
  }
  res = await request(url, jar);
  if (res.status !== 302 || !jar.authgate_session) throw new Error(`sign-in failed: ${res.status}`);
  return jar.authgate_session;
}

function redisCommands() {
  const info = execFileSync('redis-cli', ['-u', REDIS_URL, 'info', 'commandstats'], {
    encoding: 'utf8',
  });
  let calls = 0;
  for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+)/g))
    if (m[1] !== 'info') calls += Number(m[2]);
  return calls;
}

async function scenario(name, withRedis, upstreamUrl, issuer, publicPort) {
  const publicUrl = `http://127.0.0.1:${publicPort}`;
  const config = {
    server: { port: publicPort, drainDelayMs: 0 },
    metrics: { port: 0 },
    logging: { level: 'warn' },
    ...(withRedis ? { redis: { url: REDIS_URL, keyPrefix: `authgate-bench:${Date.now()}:` } } : {}),
    auth: {
      failedAuthGuard: { maxFailures: 0 },
      jwt: { issuers: [{ issuer: 'bench', algorithms: ['HS256'], secret: JWT_SECRET }] },
      oidc: {
        issuer,
        clientId: 'authgate',
        clientSecret: SECRET,
        publicUrl,
        session: { cookieSecure: false },
        groupScopes: { map: { all: ['read'] } },
      },
    },
    routes: [
      {
        name: 'ui',
        prefix: '/',
        upstream: upstreamUrl,
        auth: 'required',
        login: 'browser',
        scopes: ['read'],
      },
    ],
  };
  const proxy = await lib.startAuthgate(config, publicPort);

  const times = [];
  let session;
  for (let i = 0; i < SIGN_INS; i++) {
    const t0 = performance.now();
    session = await signIn(publicUrl, 'alice');
    times.push(performance.now() - t0);
  }
  const token = jwt.sign(
    { iss: 'bench', sub: 'bot', scope: 'read', exp: Math.floor(Date.now() / 1000) + 3600 },
    JWT_SECRET,
  );
  let lookups;
  if (withRedis) {
    const before = redisCommands();
    const n = 1000;
    for (let i = 0; i < n; i++)
      await request(
        `${publicUrl}/x`,
        { authgate_session: session },
        { headers: { Accept: 'application/json' } },
      );
    lookups = (redisCommands() - before) / n;
  }
  const rounds = { session: [], bearer: [] };
  const json = 'Accept: application/json';
  for (let r = 0; r < lib.REPEATS; r++) {
    rounds.session.push(lib.wrk(`${publicUrl}/x`, [`Cookie: authgate_session=${session}`, json]));
    rounds.bearer.push(lib.wrk(`${publicUrl}/x`, [`Authorization: Bearer ${token}`, json]));
  }
  await lib.stop(proxy);
  return {
    name,
    signInMs: {
      median: Math.round(median(times) * 10) / 10,
      min: Math.round(Math.min(...times) * 10) / 10,
    },
    redisCommandsPerRequest: lookups,
    rps: { session: Math.round(median(rounds.session)), bearer: Math.round(median(rounds.bearer)) },
    ratio: Math.round((median(rounds.session) / median(rounds.bearer)) * 100) / 100,
  };
}

async function main() {
  const upstream = lib.start(0, ['bench/upstream.js']);
  const upstreamUrl = `http://127.0.0.1:${(await lib.firstLine(upstream)).trim()}`;
  const ports = [await lib.freePort(), await lib.freePort()];
  const idp = lib.start(0, ['test/idp/oidc-provider.mjs'], {
    IDP_CONFIG: JSON.stringify({
      accounts: { alice: { groups: ['all'] } },
      clients: [
        {
          client_id: 'authgate',
          client_secret: SECRET,
          redirect_uris: ports.map((p) => `http://127.0.0.1:${p}/oauth2/callback`),
          post_logout_redirect_uris: ports.map((p) => `http://127.0.0.1:${p}/`),
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
    }),
  });
  const { issuer } = JSON.parse(await lib.firstLine(idp));
  const results = [
    await scenario('sessions in process', false, upstreamUrl, issuer, ports[0]),
    await scenario('sessions in Redis', true, upstreamUrl, issuer, ports[1]),
  ];
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    connections: lib.CONNECTIONS,
    seconds: lib.DURATION,
    repeats: lib.REPEATS,
    results,
  };
  lib.writeResult('sign-in', out);
  for (const r of results) {
    console.log(
      `${r.name}: sign-in ${r.signInMs.median} ms (min ${r.signInMs.min}); ` +
        `${r.rps.session} req/s with a session vs ${r.rps.bearer} with a bearer token (${r.ratio}x)` +
        (r.redisCommandsPerRequest === undefined
          ? ''
          : `; ${r.redisCommandsPerRequest} Redis commands per request`),
    );
  }
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(lib.cleanup);
