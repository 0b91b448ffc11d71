/**
 * `authgate session list --user SUB` / `authgate session revoke --user SUB` (docs/browser-sign-in.md):
 * a user's browser sessions, shown (never their ids: a handle derived from each) and ended on
 * every instance at once — sessions live in Redis, which every instance reads on each request.
 */
import { UsageError, parseFlags } from './args';
import { createSealer } from '../auth/oidc/seal';
import { RedisSessionStore } from '../auth/oidc/session-store';
import { systemClock } from '../clock';
import { createRedisClient, redisConfigured } from '../redis';
import { createLoggerFromConfig } from '../logging/logger';
import { loadCliConfig } from './config-loader';

function fail(message: string): number {
  console.error(`authgate: ${message}`);
  return 1;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function sessionCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'list' && sub !== 'revoke') {
    throw new UsageError(
      sub === undefined ? 'which one: list or revoke?' : `unknown subcommand "${sub}"`,
    );
  }
  const { values } = parseFlags(rest, {
    user: { type: 'string' },
    config: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (values.user === undefined || values.user === '') throw new UsageError('--user is required');
  const loaded = loadCliConfig(values.config);
  if (!loaded) return 1;
  const { config } = loaded;
  const oidc = config.auth.oidc;
  if (!oidc) return fail('auth.oidc is not configured: there are no browser sessions');
  if (!redisConfigured(config.redis)) {
    return fail(
      'sessions are kept in each authgate process (no redis configured): restart it to end them, or configure redis to manage them from here',
    );
  }
  const client = createRedisClient(config.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    return fail(`Redis is unreachable (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const store = new RedisSessionStore(
      { client, prefix: config.redis.keyPrefix },
      createSealer(oidc.clientSecret, 'session'),
      oidc.session,
      systemClock,
    );
    if (sub === 'list') {
      const sessions = await store.list(values.user);
      if (values.json) {
        console.log(JSON.stringify(sessions));
      } else if (sessions.length === 0) {
        console.log(`no sessions for ${values.user}`);
      } else {
        console.log('session       created               last seen             expires');
        for (const s of sessions)
          console.log(
            `${s.handle}  ${iso(s.createdAt)}  ${iso(s.lastSeenAt)}  ${iso(s.expiresAt)}`,
          );
      }
      return 0;
    }
    const n = await store.revokeUser(values.user);
    createLoggerFromConfig(config).info('session revoke', {
      type: 'audit',
      auth_method: 'session',
      decision: 'allow',
      reason: 'revoked',
      user_id: values.user,
      sessions: n,
    });
    console.log(`ended ${n} session(s) of ${values.user} on every instance`);
    return 0;
  } finally {
    client.disconnect();
  }
}
