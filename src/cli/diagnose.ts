/**
 * `authgate diagnose`: checks, from where authgate runs, every dependency the config names —
 * Redis, each JWKS URI, the API-key service, each upstream — and prints a readable report.
 * Exit 0 when all answer, 1 otherwise. Never prints a secret.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRedisClient, describeRedis, redisConfigured, type RedisConfig } from '../redis';
import { parseJwks } from '../auth/jwks';
import { loadCliConfig } from './config-loader';
import type { Config } from '../config/schema';
import { createScrubber } from '../logging/mask';
import { parseUpstream } from '../routes/route-table';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const TIMEOUT_MS = 3000;
const scrub = createScrubber();

function failure(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return scrub(e.code ?? e.name ?? 'error') + (e.message && !e.code ? `: ${scrub(e.message)}` : '');
}

async function checkRedis(config: RedisConfig): Promise<Check> {
  const client = createRedisClient(config, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: TIMEOUT_MS,
    retryStrategy: () => null,
  });
  const started = performance.now();
  try {
    await client.connect();
    await client.ping();
    return {
      name: 'redis',
      ok: true,
      detail: `PONG from ${describeRedis(config)} in ${(performance.now() - started).toFixed(1)} ms`,
    };
  } catch (err) {
    return { name: 'redis', ok: false, detail: failure(err) };
  } finally {
    client.disconnect();
  }
}

async function checkJwks(issuer: string, uri: string): Promise<Check> {
  const name = `jwks ${issuer}`;
  try {
    const res = await fetch(uri, { signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'error' });
    if (!res.ok) return { name, ok: false, detail: `HTTP ${res.status}` };
    const keys = parseJwks(await res.json());
    return { name, ok: keys.all.length > 0, detail: `${keys.all.length} usable signing key(s)` };
  } catch (err) {
    return { name, ok: false, detail: failure(err) };
  }
}

async function checkApiKeyService(config: NonNullable<Config['auth']['apiKeys']>): Promise<Check> {
  const name = 'api-key service';
  try {
    // A key that cannot exist: a healthy service says "invalid".
    const res = await fetch(config.validateUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ api_key: `${config.prefixes[0]}authgate-diagnose-probe` }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: 'error',
    });
    await res.body?.cancel();
    const ok = res.status === 200 || res.status === 401 || res.status === 403 || res.status === 404;
    return { name, ok, detail: `HTTP ${res.status}${ok ? ' (answers per contract)' : ''}` };
  } catch (err) {
    return { name, ok: false, detail: failure(err) };
  }
}

function checkUpstream(routeName: string, url: string): Promise<Check> {
  const u = parseUpstream(url);
  const name = `upstream ${routeName}`;
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const started = performance.now();
    const req = send(
      {
        hostname: u.hostname,
        port: u.port,
        method: 'HEAD',
        path: u.basePath || '/',
        timeout: TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        resolve({
          name,
          ok: true,
          detail: `HTTP ${res.statusCode} in ${(performance.now() - started).toFixed(1)} ms`,
        });
      },
    );
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (err) => resolve({ name, ok: false, detail: failure(err) }));
    req.end();
  });
}

export async function diagnoseCommand(configFlag: string | undefined): Promise<number> {
  const loaded = loadCliConfig(configFlag);
  if (!loaded) return 1;
  const { file, config } = loaded;
  const checks: Array<Promise<Check>> = [];
  if (redisConfigured(config.redis)) checks.push(checkRedis(config.redis));
  for (const issuer of config.auth.jwt.issuers) {
    if (issuer.jwksUri) checks.push(checkJwks(issuer.issuer, issuer.jwksUri));
  }
  if (config.auth.apiKeys) checks.push(checkApiKeyService(config.auth.apiKeys));
  const seen = new Set<string>();
  for (const route of config.routes) {
    if (seen.has(route.upstream)) continue;
    seen.add(route.upstream);
    checks.push(checkUpstream(route.name, route.upstream));
  }
  const results = await Promise.all(checks);
  console.log(`authgate diagnose (${file})`);
  for (const c of results)
    console.log(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(28)} ${c.detail}`);
  const failed = results.filter((c) => !c.ok).length;
  console.log(
    failed === 0
      ? `all ${results.length} check(s) passed`
      : `${failed} of ${results.length} check(s) failed`,
  );
  return failed === 0 ? 0 : 1;
}
