/**
 * The identity assertion (docs/identity-assertion.md): a short-lived JWT authgate signs for the
 * upstream, so an upstream can verify who the caller is instead of trusting where a request came
 * from. ES256 or EdDSA, `kid` (the key's RFC 7638 thumbprint) in the header; claims `iss`, `aud`
 * (the route), `sub`, `tenants`, `scopes`, `auth_method`, `iat`, `exp` — no per-request claim,
 * so one assertion per principal and route is reused: it is re-signed once half its lifetime
 * has passed, and a request costs a cache lookup, not a signature.
 *
 * The public key is served as a JWKS at `jwksPath`, on the main and the metrics listener.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock';
import type { Config } from '../config/schema';
import type { Principal } from '../request-scope';

export type AssertionConfig = NonNullable<Config['identityAssertion']>;

export interface AssertionKey {
  privateKey: KeyObject;
  /** The public JWK with kid, alg and use. */
  jwk: Record<string, string>;
  kid: string;
  /** Made at start (no keyFile): every instance signs with its own. */
  ephemeral: boolean;
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** RFC 7638: the SHA-256 of the public JWK's required members, in lexicographic order. */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** Why a key file cannot sign with the algorithm, or undefined when it can. */
export function keyProblem(
  key: KeyObject,
  algorithm: AssertionConfig['algorithm'],
): string | undefined {
  if (key.type !== 'private') return 'is not a private key';
  if (algorithm === 'ES256') {
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
      return 'is not a P-256 EC key (ES256)';
  } else if (key.asymmetricKeyType !== 'ed25519') {
    return 'is not an Ed25519 key (EdDSA)';
  }
  return undefined;
}

/** The signing key: from `keyFile`, or made now (with `ephemeral` set) when there is none. */
export function loadAssertionKey(config: AssertionConfig): AssertionKey {
  let privateKey: KeyObject;
  let ephemeral = false;
  if (config.keyFile) {
    let pem: Buffer;
    try {
      pem = readFileSync(config.keyFile);
    } catch (err) {
      throw new Error(
        `identityAssertion.keyFile cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        { cause: err },
      );
    }
    try {
      privateKey = createPrivateKey(pem);
    } catch (err) {
      throw new Error('identityAssertion.keyFile is not a PEM private key', { cause: err });
    }
    const problem = keyProblem(privateKey, config.algorithm);
    if (problem) throw new Error(`identityAssertion.keyFile ${problem}`);
  } else {
    privateKey =
      config.algorithm === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
        : generateKeyPairSync('ed25519').privateKey;
    ephemeral = true;
  }
  const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' }) as Record<string, string>;
  const kid = jwkThumbprint(publicJwk);
  return {
    privateKey,
    kid,
    ephemeral,
    jwk: { ...publicJwk, kid, alg: config.algorithm, use: 'sig' },
  };
}

export class IdentityAsserter {
  readonly header: string;
  private readonly cache = new LRUCache<string, { token: string; renewAt: number }>({
    max: 10_000,
  });
  private readonly jwksBody: string;

  constructor(
    private readonly config: AssertionConfig,
    readonly key: AssertionKey,
    private readonly clock: Clock,
  ) {
    this.header = config.header;
    this.jwksBody = JSON.stringify({ keys: [key.jwk] });
  }

  /** The JWKS document upstreams verify with. */
  jwks(): string {
    return this.jwksBody;
  }

  /** The assertion for a principal on a route: cached until half its lifetime has passed. */
  assertionFor(principal: Principal, route: string): string {
    const now = this.clock.now();
    const cacheKey = `${route}\u0000${principal.authMethod}\u0000${principal.userId}\u0000${principal.tenantIds.join(',')}\u0000${principal.scopes.join(' ')}`;
    const hit = this.cache.get(cacheKey);
    if (hit && hit.renewAt > now) return hit.token;
    const iat = Math.floor(now / 1000);
    const token = this.sign({
      iss: this.config.issuer,
      aud: route,
      sub: principal.userId,
      tenants: principal.tenantIds,
      scopes: principal.scopes,
      auth_method: principal.authMethod,
      iat,
      exp: iat + this.config.ttlSec,
    });
    this.cache.set(cacheKey, { token, renewAt: now + (this.config.ttlSec * 1000) / 2 });
    return token;
  }

  private sign(claims: Record<string, unknown>): string {
    const header = { alg: this.config.algorithm, typ: 'JWT', kid: this.key.kid };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature =
      this.config.algorithm === 'ES256'
        ? sign('sha256', Buffer.from(input), {
            key: this.key.privateKey,
            dsaEncoding: 'ieee-p1363',
          })
        : sign(null, Buffer.from(input), this.key.privateKey);
    return `${input}.${signature.toString('base64url')}`;
  }
}
