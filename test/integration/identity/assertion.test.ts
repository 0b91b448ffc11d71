/**
 * The identity assertion: a JWT authgate signs for the upstream, verified here by PyJWT (an
 * independent implementation) against authgate's own JWKS, for ES256 (an openssl-made key) and
 * EdDSA. One assertion per principal and route is reused within its lifetime; a client-sent
 * assertion never reaches an upstream in any spelling; anonymous requests get none.
 */
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '../../helpers/jwks';
import { ManualClock } from '../../helpers/manual-clock';
import { runCli, writeConfig } from '../../helpers/process';
import {
  pairs,
  rawRequest,
  startProxy,
  startUpstream,
  type RawResponse,
  type SeenRequest,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const SECRET = 'assertion-test-secret-0123456789abcdefgh';
const VERIFY = join(__dirname, '..', '..', 'interop', 'verify_assertion.py');
const dir = mkdtempSync(join(tmpdir(), 'authgate-assertion-'));

function opensslEcKey(): string {
  const file = join(dir, 'assertion-es256.pem');
  execFileSync('openssl', [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    file,
  ]);
  return file;
}

function ed25519Key(): string {
  const file = join(dir, 'assertion-ed25519.pem');
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return file;
}

/** PyJWT in its own process (asynchronously: it fetches the JWKS from this process's proxy). */
function verify(
  jwksUrl: string,
  token: string,
  audience: string,
  algorithm = 'ES256',
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/python3', [VERIFY, jwksUrl, audience, 'authgate', algorithm]);
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => resolve({ code, out: out.trim(), err }));
    child.stdin.end(token);
  });
}

function assertionOf(seen: SeenRequest): string[] {
  return pairs(seen.rawHeaders)
    .filter(([n]) => n.toLowerCase().replace(/_/g, '-') === 'x-authgate-assertion')
    .map(([, v]) => v);
}

const token = (sub = 'alice', scope = 'read') =>
  sign(SECRET, { iss: 'api', sub, claims: { scope, tenant_ids: ['acme'] } });

function config(upstream: string, identityAssertion: Record<string, unknown>) {
  return {
    identityAssertion,
    auth: { jwt: { issuers: [{ issuer: 'api', algorithms: ['HS256'], secret: SECRET }] } },
    routes: [
      {
        name: 'mlflow',
        prefix: '/mlflow',
        upstream,
        auth: 'required',
        scopes: ['read'],
        identityAssertion: true,
      },
      {
        name: 'reports',
        prefix: '/reports',
        upstream,
        auth: 'required',
        scopes: ['read'],
        identityAssertion: true,
      },
      { name: 'public', prefix: '/public', upstream, auth: 'optional', identityAssertion: true },
      { name: 'plain', prefix: '/plain', upstream, auth: 'required', scopes: ['read'] },
    ],
  };
}

describe('the identity assertion (ES256, an openssl key)', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;
  const clock = new ManualClock();

  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(config(upstream.url, { keyFile: opensslEcKey() }), { clock });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  async function get(
    path: string,
    headers: string[] = [],
  ): Promise<{ res: RawResponse; seen?: SeenRequest }> {
    const before = upstream.seen.length;
    const res = await rawRequest(proxy.url, {
      path,
      headers: ['Host', 'authgate.test', ...headers],
    });
    return { res, seen: upstream.seen[before] };
  }

  const jwksUrl = () => `${proxy.url}/.well-known/authgate/jwks.json`;

  test('the upstream verifies it with PyJWT against the JWKS: iss, aud = route, sub, tenants, scopes, auth_method', async () => {
    const { res, seen } = await get('/mlflow/api', ['Authorization', `Bearer ${token()}`]);
    expect(res.status).toBe(200);
    const [assertion] = assertionOf(seen!);
    const verified = await verify(jwksUrl(), assertion!, 'mlflow');
    expect(verified.code).toBe(0);
    const { header, claims } = JSON.parse(verified.out) as {
      header: Record<string, unknown>;
      claims: Record<string, unknown>;
    };
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    expect(header.kid).toMatch(/^[\w-]{43}$/);
    expect(claims).toEqual({
      iss: 'authgate',
      aud: 'mlflow',
      sub: 'alice',
      tenants: ['acme'],
      scopes: ['read'],
      auth_method: 'jwt',
      iat: expect.any(Number),
      exp: (claims.iat as number) + 60,
    });
    // Another route's upstream cannot take it for its own.
    expect(await verify(jwksUrl(), assertion!, 'reports')).toMatchObject({
      code: 1,
      out: 'invalid: InvalidAudienceError',
    });
  });

  test('the JWKS is served on the main and the metrics listener, and not as a proxied path', async () => {
    const main = await fetch(jwksUrl());
    expect(main.headers.get('content-type')).toBe('application/jwk-set+json');
    const metricsUrl = `http://127.0.0.1:${proxy.running.metricsPort}/.well-known/authgate/jwks.json`;
    const metrics = await fetch(metricsUrl);
    const body = (await main.json()) as { keys: Array<Record<string, string>> };
    expect(await metrics.json()).toEqual(body);
    expect(body.keys).toHaveLength(1);
    expect(body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(body.keys[0]).not.toHaveProperty('d');
  });

  test('one assertion per principal and route is reused, and re-signed after half its lifetime', async () => {
    const first = assertionOf(
      (await get('/mlflow/a', ['Authorization', `Bearer ${token()}`])).seen!,
    );
    const again = assertionOf(
      (await get('/mlflow/b', ['Authorization', `Bearer ${token()}`])).seen!,
    );
    expect(again).toEqual(first);
    const other = assertionOf(
      (await get('/reports/a', ['Authorization', `Bearer ${token()}`])).seen!,
    );
    expect(other).not.toEqual(first);
    const bob = assertionOf(
      (await get('/mlflow/a', ['Authorization', `Bearer ${token('bob')}`])).seen!,
    );
    expect(bob).not.toEqual(first);
    await clock.advance(31_000);
    const renewed = assertionOf(
      (await get('/mlflow/c', ['Authorization', `Bearer ${token()}`])).seen!,
    );
    expect(renewed).not.toEqual(first);
    // Signed on the test's clock, 31 s ahead of the real one: compare the claims themselves.
    const claimsOf = (t: string) =>
      JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as {
        iat: number;
        exp: number;
      };
    expect(claimsOf(renewed[0]!).iat - claimsOf(first[0]!).iat).toBe(31);
    expect(claimsOf(renewed[0]!).exp - claimsOf(renewed[0]!).iat).toBe(60);
  });

  test.each([['X-Authgate-Assertion'], ['x-authgate-assertion'], ['X-AUTHGATE-ASSERTION']])(
    'a client-sent %s never reaches the upstream',
    async (name) => {
      const forged = sign(SECRET, { iss: 'authgate', sub: 'admin' });
      for (const path of ['/mlflow/x', '/plain/x']) {
        const { res, seen } = await get(path, ['Authorization', `Bearer ${token()}`, name, forged]);
        expect(res.status).toBe(200);
        const sent = assertionOf(seen!);
        expect(sent).not.toContain(forged);
        expect(sent).toHaveLength(path === '/mlflow/x' ? 1 : 0);
      }
    },
  );

  test("its underscore spelling is refused, and Connection cannot strip authgate's", async () => {
    const under = await get('/mlflow/x', [
      'Authorization',
      `Bearer ${token()}`,
      'X_Authgate_Assertion',
      'forged',
    ]);
    expect(under.res.status).toBe(400);
    expect(under.seen).toBeUndefined();
    const { seen } = await get('/mlflow/x', [
      'Authorization',
      `Bearer ${token()}`,
      'Connection',
      'X-Authgate-Assertion',
    ]);
    expect(assertionOf(seen!)).toHaveLength(1);
  });

  test('anonymous requests get none', async () => {
    const { res, seen } = await get('/public/x', ['X-Authgate-Assertion', 'forged']);
    expect(res.status).toBe(200);
    expect(assertionOf(seen!)).toEqual([]);
  });
});

describe('the identity assertion (EdDSA), and its key checked where it is read', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;

  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(config(upstream.url, { keyFile: ed25519Key(), algorithm: 'EdDSA' }));
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  test('PyJWT verifies an EdDSA assertion', async () => {
    const before = upstream.seen.length;
    await rawRequest(proxy.url, {
      path: '/mlflow/x',
      headers: ['Host', 'a', 'Authorization', `Bearer ${token()}`],
    });
    const [assertion] = assertionOf(upstream.seen[before]!);
    const verified = await verify(
      `${proxy.url}/.well-known/authgate/jwks.json`,
      assertion!,
      'mlflow',
      'EdDSA',
    );
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.out).header).toMatchObject({ alg: 'EdDSA' });
  });

  test.each<[string, () => string, string]>([
    ['an EC key for EdDSA', opensslEcKey, 'is not an Ed25519 key (EdDSA)'],
    [
      'a file that is not a key',
      () => {
        const f = join(dir, 'junk.pem');
        writeFileSync(f, 'junk');
        return f;
      },
      'is not a PEM private key',
    ],
    ['a missing file', () => join(dir, 'missing.pem'), 'cannot be read (ENOENT)'],
  ])('check-config and serve refuse %s', async (_what, keyFile, reason) => {
    const raw = config('http://127.0.0.1:1', { keyFile: keyFile(), algorithm: 'EdDSA' });
    const checked = await runCli(['check-config', '--config', writeConfig(raw)]);
    expect(checked.code).toBe(1);
    expect(checked.stderr).toContain(`identityAssertion.keyFile: ${reason}`);
    await expect(startProxy(raw)).rejects.toThrow(`identityAssertion.keyFile ${reason}`);
  });

  test('without a keyFile, a key is made at start and check-config warns', async () => {
    const raw = config('http://127.0.0.1:1', {});
    const checked = await runCli(['check-config', '--config', writeConfig(raw)]);
    expect(checked.code).toBe(0);
    expect(checked.stdout).toMatch(/warning: identityAssertion\.keyFile: is not set/);
  });

  test('a route with identityAssertion but no identityAssertion section is refused', async () => {
    const raw = config('http://127.0.0.1:1', {}) as Record<string, unknown>;
    delete raw.identityAssertion;
    const checked = await runCli(['check-config', '--config', writeConfig(raw)]);
    expect(checked.code).toBe(1);
    expect(checked.stderr).toMatch(
      /routes\[0\]\.identityAssertion: is true but the identityAssertion section is not configured/,
    );
  });
});
