/**
 * Authenticated encryption of what authgate keeps about a sign-in outside its own memory: the
 * pre-sign-in cookie (state, nonce, PKCE verifier, return target) and sessions at rest in Redis
 * (the provider's tokens). AES-256-GCM, a random 96-bit nonce per seal, the key derived with
 * HKDF from the client secret every instance shares, and `context` bound as associated data so a
 * sealed value cannot be moved to another key or cookie.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface Sealer {
  seal(value: unknown, context: string): string;
  /** The value, or undefined when it was tampered with, sealed elsewhere or is not JSON. */
  open<T>(sealed: string, context: string): T | undefined;
}

export function createSealer(secret: string, purpose: string): Sealer {
  const key = Buffer.from(hkdfSync('sha256', secret, 'authgate', `authgate ${purpose} v1`, 32));
  return {
    seal(value, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    },
    open<T>(sealed: string, context: string): T | undefined {
      try {
        const raw = Buffer.from(sealed, 'base64url');
        if (raw.length < 29) return undefined;
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        decipher.setAAD(Buffer.from(context));
        decipher.setAuthTag(raw.subarray(12, 28));
        const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
        return JSON.parse(text.toString('utf8')) as T;
      } catch {
        return undefined;
      }
    },
  };
}
