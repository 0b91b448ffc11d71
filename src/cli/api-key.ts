/**
 * `authgate api-key create | list | revoke` (docs/design.md#command-line) against the auth service's admin API
 * (`auth.apiKeys.adminUrl`, bearer token from $AUTHGATE_ADMIN_TOKEN):
 *
 * - `create --name N --scopes S... [--tenant T]...` prints the new key once;
 * - `list` prints the keys, never a secret (even one the service sends);
 * - `revoke KEY_ID` deletes the key at the service **and** drops its cached verdicts from every
 *   instance (through Redis), and says which of the two happened;
 * - `revoke` with no KEY_ID reads a raw key from stdin (never argv, which `ps` shows) and drops
 *   only its cached verdicts.
 */
import { apiKeyId, revokeInRedis, revokeKeyIdInRedis } from '../auth/api-key';
import type { Config } from '../config/schema';
import { createRedisClient, redisConfigured } from '../redis';
import { UsageError, parseFlags, type Parsed } from './args';
import { loadCliConfig } from './config-loader';
import { trimTrailingSlashes } from '../paths/normalize-path';
import { outbound } from '../outbound';

export const API_KEY_USAGE = `usage:
  authgate api-key create --name N --scopes S [S ...] [--tenant T]... [--service-id ID] [--environment E]
  authgate api-key list
  authgate api-key revoke KEY_ID      (deletes it at the auth service and from every instance's caches)
  authgate api-key revoke < key       (a raw key on stdin: drops its cached verdicts only)
  [--config FILE]; the admin token comes from $AUTHGATE_ADMIN_TOKEN`;

const TIMEOUT_MS = 5000;
const SAFE_KEY_ID = /^[\w.:-]{1,128}$/;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

type Fail = (message: string) => number;
const fail: Fail = (message) => {
  console.error(`authgate: ${message}`);
  return 1;
};

interface Admin {
  url: string;
  token: string;
}

function adminOf(config: Readonly<Config>): Admin | string {
  const url = config.auth.apiKeys?.adminUrl;
  if (!url) return 'api-key create|list|revoke KEY_ID need auth.apiKeys.adminUrl in the config';
  const token = process.env.AUTHGATE_ADMIN_TOKEN;
  if (!token) return 'AUTHGATE_ADMIN_TOKEN is not set (the admin API needs its bearer token)';
  return { url: trimTrailingSlashes(url), token };
}

async function call(
  admin: Admin,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await outbound(`${admin.url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${admin.token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs: TIMEOUT_MS,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

/** An admin API status in words (never the body: it may echo the token or a key). */
function refused(status: number): string {
  if (status === 401 || status === 403)
    return `the admin API refused the admin token (HTTP ${status})`;
  return `the admin API answered HTTP ${status}`;
}

function noAnswer(err: unknown): string {
  const e = err as Error & { cause?: { code?: string } };
  return `no answer from the admin API (${e.cause?.code ?? e.name})`;
}

const CREATE_FLAGS = {
  name: { type: 'string' },
  scopes: { type: 'string', list: true },
  tenant: { type: 'string', list: true },
  'service-id': { type: 'string' },
  environment: { type: 'string' },
} as const;

type CreateFlags = Parsed<typeof CREATE_FLAGS>['values'];

async function create(
  admin: Admin,
  values: CreateFlags & { name: string; scopes: string[] },
): Promise<number> {
  const scopes = values.scopes.flatMap((s) => s.split(/\s+/)).filter((s) => s !== '');
  const r = await call(admin, 'POST', '', {
    name: values.name,
    service_id: values['service-id'] ?? values.name,
    environment: values.environment ?? 'production',
    scopes,
    tenant_ids: values.tenant ?? [],
  });
  const body = (r.json ?? {}) as { key_id?: unknown; api_key?: unknown };
  if (r.status !== 201 && r.status !== 200) return fail(refused(r.status));
  if (typeof body.api_key !== 'string' || typeof body.key_id !== 'string')
    return fail('the admin API answered without key_id and api_key');
  console.log(`created ${body.key_id} (${values.name}); the key is shown once, store it now:`);
  console.log(body.api_key);
  return 0;
}

async function list(admin: Admin): Promise<number> {
  const r = await call(admin, 'GET', '');
  if (r.status !== 200) return fail(refused(r.status));
  const keys = (r.json as { keys?: unknown } | undefined)?.keys;
  if (!Array.isArray(keys)) return fail('the admin API answered without a "keys" list');
  const text = (v: unknown): string =>
    Array.isArray(v) ? v.map(String).join(' ') : v === undefined || v === null ? '' : String(v);
  console.log(['KEY_ID', 'NAME', 'SCOPES', 'TENANTS', 'CREATED', 'REVOKED'].join('\t'));
  for (const k of keys as Array<Record<string, unknown>>) {
    // Only these fields: a secret the service might add is never printed.
    console.log(
      [k.key_id, k.name, k.scopes, k.tenant_ids, k.created_at, k.revoked === true ? 'yes' : 'no']
        .map(text)
        .join('\t'),
    );
  }
  return 0;
}

async function withRedis<T>(
  config: Readonly<Config>,
  run: (redis: { client: ReturnType<typeof createRedisClient>; prefix: string }) => Promise<T>,
): Promise<T> {
  const client = createRedisClient(config.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    return await run({ client, prefix: config.redis.keyPrefix });
  } finally {
    client.disconnect();
  }
}

async function revokeKeyId(config: Readonly<Config>, admin: Admin, keyId: string) {
  if (!SAFE_KEY_ID.test(keyId))
    return fail('KEY_ID must be 1-128 characters of A-Z a-z 0-9 _ . : -');
  const r = await call(admin, 'DELETE', `/${encodeURIComponent(keyId)}`);
  let status = 0;
  if (r.status === 204 || r.status === 200) console.log(`deleted ${keyId} at the auth service`);
  else if (r.status === 404) console.log(`${keyId} was not found at the auth service`);
  else {
    console.error(`authgate: not deleted at the auth service: ${refused(r.status)}`);
    status = 1;
  }
  if (!redisConfigured(config.redis)) {
    console.log(
      'no Redis configured: cached verdicts expire on their own (auth.apiKeys.cacheTtlSec)',
    );
    return status;
  }
  try {
    const dropped = await withRedis(config, (redis) => revokeKeyIdInRedis(redis, keyId));
    console.log(
      `dropped from the caches: ${dropped.entries} Redis entr${dropped.entries === 1 ? 'y' : 'ies'}, ${dropped.instances} running instance(s) notified`,
    );
  } catch (err) {
    console.error(
      `authgate: not dropped from the caches: Redis ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
    status = 1;
  }
  return status;
}

async function revokeRawKey(config: Readonly<Config>): Promise<number> {
  const apiKeys = config.auth.apiKeys;
  if (!apiKeys || !redisConfigured(config.redis) || !apiKeys.hashSecret)
    return fail(
      'revocation needs auth.apiKeys with hashSecret and redis (url, sentinel or cluster, shared by the instances)',
    );
  const key = await readStdin();
  if (key === '') return fail('no key on stdin');
  try {
    const receivers = await withRedis(config, (redis) =>
      revokeInRedis(redis, apiKeyId(apiKeys.hashSecret!, key)),
    );
    console.log(
      `dropped from the caches; ${receivers} running instance(s) notified (the key itself lives on at the auth service: use revoke KEY_ID)`,
    );
    return 0;
  } catch (err) {
    return fail(`Redis: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export async function apiKeyCommand(
  argv: string[],
  configFlag: string | undefined,
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') {
    throw new UsageError(
      sub === undefined ? 'which one: create, list or revoke?' : `unknown subcommand "${sub}"`,
    );
  }
  // The command line is checked before anything is loaded or called.
  const flags = sub === 'create' ? parseFlags(rest, CREATE_FLAGS).values : undefined;
  if (flags && !flags.name) throw new UsageError('--name is required');
  if (flags && !flags.scopes?.length) throw new UsageError('--scopes is required');
  const keyId = sub === 'revoke' ? parseFlags(rest, {}, 1).positionals[0] : undefined;
  if (sub === 'list') parseFlags(rest, {});
  const loaded = loadCliConfig(configFlag, { requireRoutes: false });
  if (!loaded) return 1;
  const { config } = loaded;
  if (sub === 'revoke' && keyId === undefined) return revokeRawKey(config);
  const admin = adminOf(config);
  if (typeof admin === 'string') return fail(admin);
  try {
    if (sub === 'create')
      return await create(admin, flags as CreateFlags & { name: string; scopes: string[] });
    if (sub === 'list') return await list(admin);
    return await revokeKeyId(config, admin, keyId as string);
  } catch (err) {
    return fail(noAnswer(err));
  }
}
