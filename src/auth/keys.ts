/**
 * Verification keys built once at startup (never per request): HMAC secrets and PEM public
 * keys. RSA keys under 2048 bits are refused wherever they come from.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Algorithm } from '../config/schema';

export const MIN_RSA_BITS = 2048;

/** Throws when an asymmetric key is unfit for verification (too short an RSA modulus). */
export function assertKeyStrength(key: KeyObject): void {
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS)
      throw new Error(`RSA key of ${bits} bits is below the ${MIN_RSA_BITS}-bit minimum`);
  }
}

export function secretKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

export function publicKeyFromPemFile(file: string): KeyObject {
  const key = createPublicKey(readFileSync(file));
  assertKeyStrength(key);
  return key;
}

/** Algorithms of `allowed` that can be verified with `key` (keeps HS and RS/ES apart). */
export function algorithmsForKey(key: KeyObject, allowed: readonly Algorithm[]): Algorithm[] {
  if (key.type === 'secret') return allowed.filter((a) => a.startsWith('HS'));
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return allowed.filter((a) => a.startsWith('RS') || a.startsWith('PS'));
    case 'rsa-pss':
      return allowed.filter((a) => a.startsWith('PS'));
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const alg =
        curve === 'prime256v1'
          ? 'ES256'
          : curve === 'secp384r1'
            ? 'ES384'
            : curve === 'secp521r1'
              ? 'ES512'
              : undefined;
      return allowed.filter((a) => a === alg);
    }
    default:
      return [];
  }
}
