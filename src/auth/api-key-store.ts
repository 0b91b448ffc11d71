/**
 * Where API-key verdicts live in Redis, and how they are revoked: one entry per
 * cache id (an HMAC of the key, never the key), a revocation generation per cache id checked by
 * every write, an index of cache ids per service `key_id` (for `api-key revoke KEY_ID`), and the
 * pub/sub channel that tells every instance. Braced ids are Redis Cluster hash tags.
 */
import type { RedisHandle } from '../redis';

export const REVOCATION_CHANNEL = 'apikey-revocations';

/** The id in braces is a Redis Cluster hash tag: a key's entry and generation share a slot. */
export function redisKeyFor(prefix: string, id: string): string {
  return `${prefix}apikey:{${id}}`;
}

/** Revocation generation of a key id: bumped by every revocation, checked by every write. */
export function generationKeyFor(prefix: string, id: string): string {
  return `${prefix}apikey-gen:{${id}}`;
}

/** How long a revocation generation is remembered: longer than any cached verdict lives. */
export const GENERATION_TTL_SEC = 2 * 86_400;

/**
 * Writes a verdict only when no revocation happened since the lookup read the generation
 * (A lookup in flight when a key was revoked must not cache "valid" afterwards).
 */
export const SET_IF_GENERATION = `
local g = redis.call('GET', KEYS[2]) or '0'
if g ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1`;

/** The set of cache ids holding verdicts for one service `key_id`. */
export function keyIdIndexFor(prefix: string, keyId: string): string {
  return `${prefix}apikey-kid:{${keyId}}`;
}

/** A revocation message naming a service key_id rather than a cache id. */
export const KEY_ID_MESSAGE = 'kid:';

/**
 * Drops every cached verdict of a service `key_id`: each cache id it was stored under is revoked
 * like a single key (generation bumped, entry deleted, instances told), then every instance
 * is told the key_id too, for verdicts it holds only in memory. Resolves what was dropped.
 */
export async function revokeKeyIdInRedis(
  redis: Pick<RedisHandle, 'client' | 'prefix'>,
  keyId: string,
): Promise<{ entries: number; instances: number }> {
  const index = keyIdIndexFor(redis.prefix, keyId);
  const ids = await redis.client.smembers(index);
  for (const id of ids) await revokeInRedis(redis, id);
  await redis.client.del(index);
  const instances = await redis.client.publish(
    `${redis.prefix}${REVOCATION_CHANNEL}`,
    `${KEY_ID_MESSAGE}${keyId}`,
  );
  return { entries: ids.length, instances };
}

export async function revokeInRedis(
  redis: Pick<RedisHandle, 'client' | 'prefix'>,
  id: string,
): Promise<number> {
  // Generation first: a lookup that read the old one can no longer write its verdict back.
  const gen = generationKeyFor(redis.prefix, id);
  await redis.client
    .multi()
    .incr(gen)
    .expire(gen, GENERATION_TTL_SEC)
    .del(redisKeyFor(redis.prefix, id))
    .exec();
  return redis.client.publish(`${redis.prefix}${REVOCATION_CHANNEL}`, id);
}
