/**
 * `authgate token decode` (never verifies; the signature is masked) and `authgate token mint`
 * (development only: signs with an HS secret or a PEM private key).
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseFlags } from './args';
import jwt from 'jsonwebtoken';
import { ALGORITHMS, type Algorithm } from '../config/schema';

export interface MintOptions {
  secret?: string;
  privateKeyPem?: string;
  algorithm: Algorithm;
  issuer: string;
  subject: string;
  audience?: string;
  scope?: string;
  tenants?: string[];
  ttlSec: number;
  kid?: string;
}

export function mintToken(o: MintOptions): string {
  const key = o.privateKeyPem !== undefined ? createPrivateKey(o.privateKeyPem) : o.secret;
  if (key === undefined) throw new Error('token mint needs --secret, --secret-env or --key');
  const payload: Record<string, unknown> = { sub: o.subject };
  if (o.scope) payload.scope = o.scope;
  if (o.tenants && o.tenants.length > 0) payload.tenant_ids = o.tenants;
  // jsonwebtoken refuses an `audience: undefined` option: leave it out when not asked for.
  return jwt.sign(payload, key, {
    algorithm: o.algorithm,
    issuer: o.issuer,
    expiresIn: o.ttlSec,
    ...(o.audience !== undefined ? { audience: o.audience } : {}),
    ...(o.kid !== undefined ? { keyid: o.kid } : {}),
  });
}

function human(epochSec: unknown): string | undefined {
  if (typeof epochSec !== 'number') return undefined;
  const delta = Math.round(epochSec - Date.now() / 1000);
  const rel = delta >= 0 ? `in ${delta}s` : `${-delta}s ago`;
  return `${new Date(epochSec * 1000).toISOString()} (${rel})`;
}

export function decodeToken(token: string): string {
  // A value pasted from a header: "Bearer eyJ…" or "Authorization: Bearer eyJ…".
  const bare = token.trim().replace(/^(?:authorization:\s*)?bearer\s+/i, '');
  const parts = bare.split('.');
  if (parts.length !== 3) throw new Error('not a JWT (expected three dot-separated parts)');
  const parse = (s: string): unknown => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  let header: unknown;
  let claims: Record<string, unknown>;
  try {
    header = parse(parts[0] as string);
    claims = parse(parts[1] as string) as Record<string, unknown>;
  } catch {
    throw new Error('not a JWT (header or payload is not base64url JSON)');
  }
  const sig = parts[2] as string;
  const times: Record<string, string> = {};
  for (const k of ['iat', 'nbf', 'exp']) {
    const h = human(claims[k]);
    if (h) times[k] = h;
  }
  return JSON.stringify(
    {
      header,
      claims,
      times,
      signature: sig === '' ? '(none)' : `${sig.slice(0, 4)}… (${sig.length} chars, not verified)`,
    },
    null,
    2,
  );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function tokenCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'decode') {
    const token = rest[0] ?? (await readStdin());
    try {
      console.log(decodeToken(token));
      return 0;
    } catch (err) {
      console.error(`authgate: ${(err as Error).message}`);
      return 1;
    }
  }
  if (sub === 'mint') {
    const { values } = parseFlags(rest, {
      secret: { type: 'string' },
      'secret-env': { type: 'string' },
      key: { type: 'string' },
      alg: { type: 'string', default: 'HS256' },
      iss: { type: 'string', default: 'authgate-dev' },
      sub: { type: 'string', default: 'dev-user' },
      // The defaults match config/authgate.yaml's development issuer and demo route.
      aud: { type: 'string', default: 'authgate' },
      scope: { type: 'string', default: 'demo:read demo:write' },
      tenant: { type: 'string', list: true },
      ttl: { type: 'string', default: '3600' },
      kid: { type: 'string' },
    });
    if (!(ALGORITHMS as readonly string[]).includes(values.alg)) {
      console.error(`authgate: --alg must be one of ${ALGORITHMS.join(', ')}`);
      return 2;
    }
    const secretEnv = values['secret-env'];
    if (secretEnv !== undefined && !process.env[secretEnv]) {
      console.error(`authgate: --secret-env ${secretEnv}: that environment variable is not set`);
      return 2;
    }
    const ttl = Number(values.ttl);
    if (!/^\d+$/.test(values.ttl) || ttl < 1 || ttl > 31_536_000) {
      console.error('authgate: --ttl must be a whole number of seconds from 1 to 31536000');
      return 2;
    }
    const secret = secretEnv !== undefined ? process.env[secretEnv] : values.secret;
    try {
      console.log(
        mintToken({
          secret,
          privateKeyPem: values.key !== undefined ? readFileSync(values.key, 'utf8') : undefined,
          algorithm: values.alg as Algorithm,
          issuer: values.iss,
          subject: values.sub,
          audience: values.aud,
          scope: values.scope,
          tenants: values.tenant,
          ttlSec: ttl,
          kid: values.kid,
        }),
      );
      return 0;
    } catch (err) {
      console.error(`authgate: ${(err as Error).message}`);
      return 1;
    }
  }
  console.error(
    'usage: authgate token decode [JWT] | authgate token mint [--secret S|--secret-env VAR|--key PEM] [--alg HS256] [--iss I] [--sub S] [--aud A] [--scope "a b"] [--tenant T]... [--ttl 3600]',
  );
  return 2;
}
