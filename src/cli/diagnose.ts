/**
 * `authgate diagnose`: checks, from where authgate runs, every dependency the config names —
 * Redis, each JWKS URI, the API-key service, each upstream — and prints a readable report.
 * Exit 0 when all answer, 1 otherwise. Never prints a secret.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRedisClient, describeRedis, redisConfigured, type RedisConfig } from '../redis';
import { parseJwks } from '../auth/jwks';
import { parseVerdict } from '../auth/api-key-service';
import { loadCliConfig } from './config-loader';
import type { Config } from '../config/schema';
import { createScrubber } from '../logging/mask';
import { parseUpstream } from '../routes/route-table';
import type { RouteConfig } from '../config/schema';
import { systemClock } from '../clock';
import { NOOP_LOGGER } from '../logging/logger';
import { ApiKeyService } from '../auth/api-key-service';
import { routeUpstreams } from '../config/checks';
import { RouteUpstreamAuth } from '../upstream-credentials/route-upstream-auth';
import { outbound } from '../outbound';
import { trimTrailingSlashes } from '../paths/normalize-path';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const TIMEOUT_MS = 3000;
const scrub = createScrubber();

/** Every failed check that got no answer is worded the same: "no answer (<code>)". */
function failure(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.cause?.code ?? e.code ?? (e.name === 'TimeoutError' ? 'ETIMEDOUT' : undefined);
  return `no answer (${scrub(code ?? e.name ?? 'error')})`;
}

async function checkRedis(config: RedisConfig): Promise<Check> {
  const client = createRedisClient(config, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: TIMEOUT_MS,
    retryStrategy: () => null,
  });
  // ioredis would print an unhandled error event (a stack trace) without a listener.
  let lastCode: string | undefined;
  client.on('error', (err: NodeJS.ErrnoException) => {
    lastCode = err.code ?? lastCode;
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
    const code = (err as NodeJS.ErrnoException).code ?? lastCode;
    return {
      name: 'redis',
      ok: false,
      detail: code ? `no answer (${code}) from ${describeRedis(config)}` : failure(err),
    };
  } finally {
    client.disconnect();
  }
}

/**
 * The JWKS answers with usable keys, and this host's clock agrees with the JWKS server's `Date`
 * within the tolerance tokens get (a skewed clock makes fresh tokens "expired").
 */
async function checkJwks(issuer: string, uri: string, toleranceSec: number): Promise<Check> {
  const name = `jwks ${issuer}`;
  try {
    const res = await outbound(uri, { timeoutMs: TIMEOUT_MS });
    if (!res.ok) return { name, ok: false, detail: `answered HTTP ${res.status}` };
    const keys = parseJwks(await res.json());
    if (keys.all.length === 0)
      return { name, ok: false, detail: 'contract: no usable signing key' };
    const date = Date.parse(res.headers.get('date') ?? '');
    if (Number.isNaN(date))
      return { name, ok: true, detail: `${keys.all.length} usable signing key(s); no Date header` };
    const skew = Math.round((Date.now() - date) / 1000);
    // Date has whole seconds: allow one more than the tolerance.
    if (Math.abs(skew) > toleranceSec + 1)
      return {
        name,
        ok: false,
        detail: `clock skew ${skew > 0 ? '+' : ''}${skew} s against the JWKS server (tolerance ${toleranceSec} s)`,
      };
    return {
      name,
      ok: true,
      detail: `${keys.all.length} usable signing key(s), clock skew ${skew} s`,
    };
  } catch (err) {
    return { name, ok: false, detail: failure(err) };
  }
}

/**
 * The sign-in provider: its discovery document names this issuer and the endpoints sign-in
 * needs, it supports PKCE S256, and its JWKS answers (the ID tokens' keys).
 */
async function checkOidcProvider(oidc: NonNullable<Config['auth']['oidc']>): Promise<Check> {
  const name = 'oidc provider';
  const url = `${trimTrailingSlashes(oidc.issuer)}/.well-known/openid-configuration`;
  try {
    const res = await outbound(url, { timeoutMs: TIMEOUT_MS });
    if (!res.ok) return { name, ok: false, detail: `discovery answered HTTP ${res.status}` };
    const doc = (await res.json()) as Record<string, unknown>;
    if (doc.issuer !== oidc.issuer)
      return { name, ok: false, detail: 'contract: the discovery document names another issuer' };
    const missing = ['authorization_endpoint', 'token_endpoint', 'jwks_uri'].filter(
      (k) => typeof doc[k] !== 'string',
    );
    if (missing.length > 0)
      return { name, ok: false, detail: `contract: discovery lacks ${missing.join(', ')}` };
    const methods = doc.code_challenge_methods_supported;
    if (Array.isArray(methods) && !methods.includes('S256'))
      return { name, ok: false, detail: 'contract: PKCE S256 is not supported' };
    const keys = await outbound(doc.jwks_uri as string, { timeoutMs: TIMEOUT_MS });
    if (!keys.ok) return { name, ok: false, detail: `jwks_uri answered HTTP ${keys.status}` };
    await keys.body?.cancel();
    const logout =
      typeof doc.end_session_endpoint === 'string' ? 'RP-initiated logout' : 'no logout endpoint';
    return { name, ok: true, detail: `discovery and keys answer; ${logout}` };
  } catch (err) {
    return { name, ok: false, detail: failure(err) };
  }
}

async function checkApiKeyService(config: NonNullable<Config['auth']['apiKeys']>): Promise<Check> {
  const name = 'api-key service';
  try {
    // A key that cannot exist: a healthy service says "invalid".
    // Through the proxy's own client: the same serviceAuth credential and TLS.
    const service = new ApiKeyService({ ...config, timeoutMs: TIMEOUT_MS });
    let res: Response;
    try {
      res = await service.post(`${config.prefixes[0]}authgate-diagnose-probe`);
    } finally {
      service.stop();
    }
    // Read the answer by the rules the proxy uses (docs/design.md#configuration contract).
    if (res.status === 200) {
      let body: unknown;
      try {
        body = await res.json();
      } catch {
        return { name, ok: false, detail: 'contract: HTTP 200 without a JSON body' };
      }
      const parsed = parseVerdict(body);
      if ('breach' in parsed)
        return { name, ok: false, detail: `contract: field "${parsed.breach}" breaks it` };
      if (parsed.verdict.valid)
        return { name, ok: false, detail: 'contract: a key that cannot exist was answered valid' };
      return { name, ok: true, detail: 'HTTP 200 valid:false for a bad key (per contract)' };
    }
    await res.body?.cancel();
    if (config.serviceAuth && (res.status === 401 || res.status === 403))
      return {
        name,
        ok: false,
        detail: `HTTP ${res.status}: the service refused authgate's own credential (serviceAuth)`,
      };
    if ([401, 403, 404].includes(res.status))
      return { name, ok: true, detail: `HTTP ${res.status} for a bad key (per contract)` };
    return { name, ok: false, detail: `answered HTTP ${res.status}` };
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

function expiresIn(at: number | undefined): string {
  if (at === undefined) return 'no expiry';
  const s = Math.round((at - Date.now()) / 1000);
  if (s <= 0) return `expired ${-s} s ago`;
  return s >= 120 ? `expires in ${Math.round(s / 60)} min` : `expires in ${s} s`;
}

/**
 * The route's upstream credential (docs/design.md#upstream-credentials): which provider supplies it and when it expires,
 * or why each provider has none. Never the credential itself.
 */
async function checkUpstreamCredential(route: Readonly<RouteConfig>): Promise<Check> {
  const name = `upstream credential ${route.name}`;
  const auth = new RouteUpstreamAuth(route, parseUpstream(routeUpstreams(route)[0] as string), {
    clock: systemClock,
    logger: NOOP_LOGGER,
    env: process.env,
  });
  const skipped: string[] = [];
  for (const provider of auth.providers) {
    const result = await provider.get();
    if ('credential' in result) {
      const c = result.credential;
      const before = skipped.length > 0 ? ` (skipped: ${skipped.join('; ')})` : '';
      return {
        name,
        ok: true,
        detail: `${c.scheme} credential from ${result.source}, ${expiresIn(c.expiresAt)}${before}`,
      };
    }
    skipped.push(`${result.source}: ${result.none}`);
  }
  return { name, ok: false, detail: `no provider yields a credential: ${skipped.join('; ')}` };
}

export async function diagnoseCommand(
  configFlag: string | undefined,
  json = false,
): Promise<number> {
  // Checking dependencies needs no route (a config for an embedded gate may have none).
  const loaded = loadCliConfig(configFlag, { requireRoutes: false });
  if (!loaded) return 1;
  const { file, config } = loaded;
  const checks: Array<Promise<Check>> = [];
  if (redisConfigured(config.redis)) checks.push(checkRedis(config.redis));
  for (const issuer of config.auth.jwt.issuers) {
    if (issuer.jwksUri)
      checks.push(checkJwks(issuer.issuer, issuer.jwksUri, config.auth.jwt.clockToleranceSec));
  }
  if (config.auth.apiKeys) checks.push(checkApiKeyService(config.auth.apiKeys));
  if (config.auth.oidc) checks.push(checkOidcProvider(config.auth.oidc));
  const seen = new Set<string>();
  for (const route of config.routes) {
    for (const upstream of routeUpstreams(route)) {
      if (seen.has(upstream)) continue;
      seen.add(upstream);
      checks.push(checkUpstream(route.name, upstream));
    }
  }
  for (const route of config.routes) {
    if (route.upstreamAuth.mode !== 'none') checks.push(checkUpstreamCredential(route));
  }
  const results = await Promise.all(checks);
  const failed = results.filter((c) => !c.ok).length;
  if (json) {
    console.log(
      JSON.stringify({ config: file, ok: failed === 0, failed, checks: results }, null, 2),
    );
    return failed === 0 ? 0 : 1;
  }
  console.log(`authgate diagnose (${file})`);
  for (const c of results)
    console.log(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(28)} ${c.detail}`);
  console.log(
    failed === 0
      ? `all ${results.length} check(s) passed`
      : `${failed} of ${results.length} check(s) failed`,
  );
  return failed === 0 ? 0 : 1;
}
