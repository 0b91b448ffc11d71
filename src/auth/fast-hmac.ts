/**
 * HMAC-SHA256 (RFC 2104) from two one-shot `crypto.hash` calls with the padded keys computed
 * once. Identical output to `createHmac('sha256', key)`, without allocating an Hmac object per
 * call (with a Buffer key, `createHmac` imports the key each time: ~16 µs → ~2 µs here).
 * It names cache entries on every API-key request.
 */
import { hash } from 'node:crypto';

const BLOCK = 64;

export function hmacSha256(key: Buffer | string): (message: string) => string {
  let k = Buffer.from(key);
  if (k.length > BLOCK) k = hash('sha256', k, 'buffer');
  const block = Buffer.alloc(BLOCK);
  k.copy(block);
  const ipad = Buffer.alloc(BLOCK);
  const opad = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    ipad[i] = (block[i] as number) ^ 0x36;
    opad[i] = (block[i] as number) ^ 0x5c;
  }
  return (message) => {
    const inner = hash('sha256', Buffer.concat([ipad, Buffer.from(message, 'utf8')]), 'buffer');
    return hash('sha256', Buffer.concat([opad, inner]), 'base64url');
  };
}
