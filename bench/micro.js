// Micro-benchmarks of the per-request auth and header work (no network), on the compiled code.
// Run: npm run bench (or node bench/micro.js after npm run build). Prints JSON.
const { generateKeyPairSync, randomUUID } = require('node:crypto');
const jwt = require('jsonwebtoken');
const { JwtAuthenticator } = require('../dist/auth/jwt');
const { ApiKeyAuthenticator } = require('../dist/auth/api-key');
const { parseConfig } = require('../dist/config/load');
const { normalizeRequestTarget } = require('../dist/paths/normalize-path');
const { stripHopByHop } = require('../dist/headers/hop-by-hop');
const { checkGuardedHeaders, DEFAULT_HEADER_GUARD } = require('../dist/headers/guarded');
const { requestFraming } = require('../dist/headers/framing');
const { createMasker } = require('../dist/logging/mask');
const { decideRequestId } = require('../dist/headers/request-id');
const { createLogger } = require('../dist/logging/logger');
const { Writable } = require('node:stream');

const logger = createLogger({
  level: 'error',
  stream: new Writable({ write: (_c, _e, cb) => cb() }),
});

/** ns per call: median of `rounds` rounds of `iterations` calls. */
async function measure(fn, iterations, rounds = 7) {
  for (let i = 0; i < Math.min(iterations, 2000); i++) await fn(); // warm-up
  const samples = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn();
    samples.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

function syncMeasure(fn, iterations, rounds = 7) {
  for (let i = 0; i < Math.min(iterations, 2000); i++) fn();
  const samples = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

async function jwtCases() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authgate-bench-'));
  fs.writeFileSync(
    path.join(dir, 'rsa.pem'),
    rsa.publicKey.export({ type: 'spki', format: 'pem' }),
  );
  fs.writeFileSync(path.join(dir, 'ec.pem'), ec.publicKey.export({ type: 'spki', format: 'pem' }));
  const secret = 'bench-secret-0123456789abcdefghijklmnop';
  const config = parseConfig(
    {
      auth: {
        jwt: {
          issuers: [
            {
              issuer: 'rs',
              audience: 'api',
              algorithms: ['RS256'],
              publicKeyFile: path.join(dir, 'rsa.pem'),
            },
            {
              issuer: 'es',
              audience: 'api',
              algorithms: ['ES256'],
              publicKeyFile: path.join(dir, 'ec.pem'),
            },
            { issuer: 'hs', audience: 'api', algorithms: ['HS256'], secret },
          ],
        },
      },
      routes: [{ name: 'b', prefix: '/', upstream: 'http://127.0.0.1:1' }],
    },
    {},
  );
  const auth = new JwtAuthenticator(config.auth.jwt, { logger });
  const claims = { sub: 'alice', aud: 'api', scope: 'read write', tenant_ids: ['t1'] };
  const tokens = {
    RS256: jwt.sign({ ...claims, iss: 'rs' }, rsa.privateKey, {
      algorithm: 'RS256',
      expiresIn: 3600,
    }),
    ES256: jwt.sign({ ...claims, iss: 'es' }, ec.privateKey, {
      algorithm: 'ES256',
      expiresIn: 3600,
    }),
    HS256: jwt.sign({ ...claims, iss: 'hs' }, secret, { algorithm: 'HS256', expiresIn: 3600 }),
  };
  const out = {};
  for (const [alg, token] of Object.entries(tokens)) {
    const scope = { credentials: { bearer: token } };
    out[`jwt_${alg}_uncached_us`] =
      (await measure(() => auth.verifyUncached(token), alg === 'HS256' ? 20000 : 3000)) / 1000;
    out[`jwt_${alg}_cached_us`] =
      (await measure(() => auth.authenticate(undefined, scope), 200000)) / 1000;
  }
  return out;
}

async function apiKeyCase() {
  // A real (tiny) auth service answers the first lookup; the measured calls are memory hits.
  const http = require('node:http');
  const service = http.createServer((_req, res) =>
    res.end(JSON.stringify({ valid: true, user_id: 'svc', tenant_ids: ['t1'], scopes: ['read'] })),
  );
  await new Promise((r) => service.listen(0, '127.0.0.1', r));
  const config = parseConfig(
    {
      auth: {
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl: `http://127.0.0.1:${service.address().port}/v`,
          hashSecret: 'h'.repeat(32),
        },
      },
      routes: [{ name: 'b', prefix: '/', upstream: 'http://127.0.0.1:1' }],
    },
    {},
  );
  const a = new ApiKeyAuthenticator(config.auth.apiKeys, { logger });
  const scope = { credentials: { apiKey: 'hok_live_abcdefghijklmnopqrstuvwxyz012345' } };
  await a.authenticate(undefined, scope);
  const us = (await measure(() => a.authenticate(undefined, scope), 200000)) / 1000;
  service.close();
  return { api_key_memory_hit_us: us };
}

function headerCase() {
  const raw = [
    'Host',
    'api.example.com',
    'User-Agent',
    'mlflow-python-client/2.17.0',
    'Accept',
    '*/*',
    'Authorization',
    'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.sig',
    'X-Request-ID',
    randomUUID(),
    'traceparent',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    'Connection',
    'keep-alive',
    'Content-Type',
    'application/json',
    'Content-Length',
    '123',
    'X-Tenant-ID',
    't1',
  ];
  return {
    header_hygiene_and_path_us:
      syncMeasure(() => {
        normalizeRequestTarget('/api/2.0/mlflow/runs/get?run_id=abc');
        decideRequestId(raw);
        requestFraming(raw);
        checkGuardedHeaders(raw, DEFAULT_HEADER_GUARD);
        stripHopByHop(raw);
      }, 200000) / 1000,
  };
}

/** A Redis-layer hit: the GET + parse an API-key lookup does when the LRU misses. */
async function apiKeyRedisCase() {
  const { Redis } = require('ioredis');
  const { apiKeyId, redisKeyFor } = require('../dist/auth/api-key');
  const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
  } catch {
    client.disconnect();
    return { api_key_redis_hit_us: null };
  }
  const key = redisKeyFor('authgate-bench:', apiKeyId('h'.repeat(32), 'hok_live_benchmark'));
  await client.set(
    key,
    JSON.stringify({ valid: true, userId: 'svc', tenantIds: ['t1'], scopes: ['read'] }),
    'EX',
    60,
  );
  const us = (await measure(async () => JSON.parse(await client.get(key)), 5000)) / 1000;
  await client.del(key);
  client.disconnect();
  return { api_key_redis_hit_us: us };
}

function metricsCase() {
  const { Metrics } = require('../dist/metrics');
  const m = new Metrics('bench');
  return {
    metrics_observation_us:
      syncMeasure(() => m.observeRequest('api', 'GET', 200, 0.003), 200000) / 1000,
  };
}

/**
 * Issue 8.5: the masker on attacker-shaped 14 KB values (what a long request path puts in the
 * access and audit lines) next to an ordinary one of the same length. Each value is µs per
 * masked log field; the ratio worst/ordinary is the number to watch (~1 means linear).
 */
function scrubCase() {
  const N = 14_000;
  const fill = (unit) => unit.repeat(Math.ceil(N / unit.length)).slice(0, N);
  const mask = createMasker({ apiKeyPrefixes: ['hok_live_', 'hok_test_'] });
  const inputs = {
    ordinary: fill('/api/2.0/mlflow/runs/search?experiment_ids=1&max_results=100&'),
    jwt_starts: fill('eyJ'),
    jwt_segments: fill('eyJaa.'),
    scheme_dots: fill('a.') + ':',
    scheme_plus: fill('a+') + ':',
    url_no_at: 'x://' + fill('a'),
    url_repeats: fill('x://'),
    bearer_words: fill('Bearer '),
    bearer_spaces: fill('Bearer' + ' '.repeat(60)),
    key_prefixes: fill('hok_live_'),
    query_keys: fill('?token='),
  };
  const out = {};
  for (const [name, value] of Object.entries(inputs)) {
    out[`scrub_14kb_${name}_us`] = syncMeasure(() => mask({ path: value }), 200, 5) / 1000;
  }
  const ordinary = out.scrub_14kb_ordinary_us;
  const worst = Math.max(...Object.values(out));
  out.scrub_worst_over_ordinary = worst / ordinary;
  return out;
}

async function main() {
  const results = {
    ...scrubCase(),
    ...metricsCase(),
    ...(await apiKeyRedisCase()),
    ...(await jwtCases()),
    ...(await apiKeyCase()),
    ...headerCase(),
  };
  for (const [k, v] of Object.entries(results))
    if (typeof v === 'number') results[k] = Math.round(v * 100) / 100;
  return results;
}

module.exports = { main };
if (require.main === module) main().then((r) => console.log(JSON.stringify(r, null, 2)));
