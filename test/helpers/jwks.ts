import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256' | 'PS256' | 'RS512';
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function rsaKey(bits = 2048, alg: SigningKey['alg'] = 'RS256'): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { kid: randomUUID(), alg, privateKey, publicKey };
}

export function ecKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid: randomUUID(), alg: 'ES256', privateKey, publicKey };
}

/** A real JWKS endpoint whose key set, availability and fetch count the test controls. */
export interface JwksServer {
  url: string;
  fetches: number;
  keys: SigningKey[];
  down: boolean;
  close(): Promise<void>;
}

export async function startJwksServer(keys: SigningKey[]): Promise<JwksServer> {
  const state = { fetches: 0, keys, down: false };
  const server: Server = createServer((_req, res) => {
    state.fetches++;
    if (state.down) {
      res.writeHead(503).end('down');
      return;
    }
    const body = JSON.stringify({
      keys: state.keys.map((k) => ({
        ...k.publicKey.export({ format: 'jwk' }),
        kid: k.kid,
        use: 'sig',
        alg: k.alg,
      })),
    });
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as JwksServer;
}

export interface TokenOptions {
  iss?: string;
  aud?: string | string[];
  sub?: unknown;
  expiresInSec?: number | null;
  iat?: number | null;
  nbf?: number;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
}

export function sign(key: SigningKey | string, options: TokenOptions = {}, alg?: string): string {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: options.iss ?? 'https://issuer.test',
    sub: options.sub === undefined ? 'alice' : options.sub,
    ...(options.aud !== undefined ? { aud: options.aud } : { aud: 'api' }),
    scope: 'read write',
    tenant_ids: ['t1', 't2'],
    ...options.claims,
  };
  if (options.iat !== null) payload.iat = options.iat ?? now;
  if (options.expiresInSec !== null) payload.exp = now + (options.expiresInSec ?? 300);
  if (options.nbf !== undefined) payload.nbf = options.nbf;
  const secret = typeof key === 'string' ? key : key.privateKey;
  const algorithm = (alg ?? (typeof key === 'string' ? 'HS256' : key.alg)) as jwt.Algorithm;
  const header = {
    alg: algorithm,
    typ: 'JWT',
    ...(typeof key === 'string' ? {} : { kid: key.kid }),
    ...options.header,
  };
  return jwt.sign(payload, secret, {
    algorithm,
    header: header as jwt.JwtHeader,
    allowInsecureKeySizes: true,
  });
}

/** Builds a token from raw parts, signature optional (for alg none and forged headers). */
export function rawToken(header: object, payload: object, signature = ''): string {
  const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc(header)}.${enc(payload)}.${signature}`;
}
