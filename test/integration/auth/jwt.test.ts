import { randomUUID } from 'node:crypto';
import request from 'supertest';
import {
  ecKey,
  rawToken,
  rsaKey,
  sign,
  startJwksServer,
  type JwksServer,
  type SigningKey,
} from '../../helpers/jwks';
import {
  pairs,
  rawRequest,
  route,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const HS_SECRET = 'an-hs256-secret-that-is-long-enough-1234';
const now = (): number => Math.floor(Date.now() / 1000);

describe('JWT authentication with a real JWKS server', () => {
  let rsa: SigningKey;
  let ec: SigningKey;
  let jwks: JwksServer;
  let attacker: JwksServer;
  let upstream: TestUpstream;
  let proxy: TestProxy;

  beforeAll(async () => {
    rsa = rsaKey();
    ec = ecKey();
    jwks = await startJwksServer([rsa, ec]);
    attacker = await startJwksServer([]);
    upstream = await startUpstream();
    proxy = await startProxy({
      auth: {
        // These tests send many bad tokens from one address on purpose.
        failedAuthGuard: { maxFailures: 0 },
        jwt: {
          maxLifetimeSec: 3600,
          clockToleranceSec: 5,
          issuers: [
            {
              issuer: 'https://issuer.test',
              audience: ['api', 'other'],
              algorithms: ['RS256', 'ES256'],
              jwksUri: jwks.url,
            },
            { issuer: 'hs-issuer', algorithms: ['HS256'], secret: HS_SECRET },
          ],
        },
      },
      routes: [route(upstream.url, { auth: 'required' })],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
    await jwks.close();
    await attacker.close();
  });

  const call = (token: string) =>
    request(proxy.url).get('/r').set('Authorization', `Bearer ${token}`);

  async function expectRejected(token: string, code: string, status = 401): Promise<void> {
    const before = upstream.seen.length;
    const res = await call(token);
    expect(res.status).toBe(status);
    expect(res.body.error_code).toBe(code);
    expect(res.headers['www-authenticate']).toMatch(
      /^Bearer realm="authgate", error="invalid_token"/,
    );
    expect(res.text).not.toContain(token);
    expect(upstream.seen.length).toBe(before);
  }

  it('accepts RS256 from the JWKS, forwards Authorization untouched and sets X-User-ID', async () => {
    const token = sign(rsa);
    const res = await call(token);
    expect(res.status).toBe(200);
    const got = pairs(upstream.seen[upstream.seen.length - 1]!.rawHeaders);
    expect(got).toContainEqual(['Authorization', `Bearer ${token}`]);
    expect(got).toContainEqual(['X-User-ID', 'alice']);
  });

  it('accepts ES256 from the JWKS', async () => {
    expect((await call(sign(ec))).status).toBe(200);
  });

  it('accepts HS256 from a configured secret', async () => {
    expect((await call(sign(HS_SECRET, { iss: 'hs-issuer' }))).status).toBe(200);
  });

  it('accepts a token whose aud is one of several', async () => {
    expect((await call(sign(rsa, { aud: ['x', 'other'] }))).status).toBe(200);
  });

  // One case per way a token is rejected.
  it('rejects alg "none"', async () => {
    const t = rawToken(
      { alg: 'none', typ: 'JWT' },
      { iss: 'https://issuer.test', sub: 'alice', aud: 'api', exp: now() + 60 },
    );
    await expectRejected(t, 'TOKEN_INVALID');
  });

  it('rejects alg "None" spelled differently', async () => {
    const t = rawToken({ alg: 'NONE' }, { iss: 'hs-issuer', sub: 'alice', exp: now() + 60 });
    await expectRejected(t, 'TOKEN_INVALID');
  });

  it('rejects an algorithm outside the allow-list (PS256 with a valid RSA key)', async () => {
    await expectRejected(sign(rsa, {}, 'PS256'), 'TOKEN_INVALID');
  });

  it('rejects HS256 signed with the RSA public key as the secret (algorithm confusion)', async () => {
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const forged = sign(pem, { header: { kid: rsa.kid } }, 'HS256');
    await expectRejected(forged, 'TOKEN_INVALID');
    // and against an issuer whose allow-list would contain it if it were mixed:
    const forged2 = sign(pem, { iss: 'hs-issuer' }, 'HS256');
    await expectRejected(forged2, 'TOKEN_INVALID');
  });

  it('rejects an RSA key under 2048 bits served by the JWKS', async () => {
    const weak = rsaKey(1024);
    jwks.keys = [rsa, ec, weak];
    try {
      await expectRejected(sign(weak), 'TOKEN_INVALID');
    } finally {
      jwks.keys = [rsa, ec];
    }
  });

  it('rejects a token without exp', async () => {
    await expectRejected(sign(rsa, { expiresInSec: null }), 'TOKEN_INVALID');
  });

  it('rejects a lifetime above maxLifetimeSec (exp - iat)', async () => {
    await expectRejected(sign(rsa, { expiresInSec: 7200 }), 'TOKEN_INVALID');
  });

  it('rejects a lifetime above maxLifetimeSec (exp - now, no iat)', async () => {
    await expectRejected(sign(rsa, { expiresInSec: 7200, iat: null }), 'TOKEN_INVALID');
  });

  it('rejects iat in the future beyond the tolerance', async () => {
    await expectRejected(sign(rsa, { iat: now() + 120 }), 'TOKEN_NOT_YET_VALID');
  });

  it('accepts iat in the future within the tolerance', async () => {
    expect((await call(sign(rsa, { iat: now() + 2 }))).status).toBe(200);
  });

  it('rejects nbf in the future', async () => {
    await expectRejected(sign(rsa, { nbf: now() + 120 }), 'TOKEN_NOT_YET_VALID');
  });

  it('rejects an expired token', async () => {
    const t = sign(rsa, { iat: now() - 600, expiresInSec: -300 });
    await expectRejected(t, 'TOKEN_EXPIRED');
  });

  it('rejects an unknown crit header', async () => {
    await expectRejected(
      sign(rsa, { header: { crit: ['exp-ext'], 'exp-ext': 1 } }),
      'TOKEN_INVALID',
    );
  });

  it('rejects a non-string sub', async () => {
    await expectRejected(sign(rsa, { sub: 12345 }), 'TOKEN_INVALID');
  });

  it.each([
    ['a space', 'alice smith'],
    ['CRLF', 'alice\r\nX-Admin: 1'],
    ['a comma', 'alice,bob'],
    ['an empty string', ''],
    ['257 characters', 'a'.repeat(257)],
  ])('rejects an unsafe sub (%s)', async (_n, sub) => {
    await expectRejected(sign(rsa, { sub }), 'TOKEN_INVALID');
  });

  it('never fetches jku: a token pointing at an attacker JWKS is rejected and the attacker sees no request', async () => {
    const evil = rsaKey();
    attacker.keys = [evil];
    await expectRejected(sign(evil, { header: { jku: attacker.url } }), 'TOKEN_INVALID');
    await expectRejected(sign(evil, { header: { x5u: attacker.url } }), 'TOKEN_INVALID');
    expect(attacker.fetches).toBe(0);
  });

  it('never trusts an embedded jwk header', async () => {
    const evil = rsaKey();
    const jwk = { ...evil.publicKey.export({ format: 'jwk' }), kid: evil.kid };
    await expectRejected(sign(evil, { header: { jwk } }), 'TOKEN_INVALID');
  });

  it('rejects a wrong audience, a wrong issuer and an unknown issuer', async () => {
    await expectRejected(sign(rsa, { aud: 'someone-else' }), 'TOKEN_INVALID');
    await expectRejected(sign(rsa, { iss: 'https://evil.test' }), 'TOKEN_INVALID');
    await expectRejected(sign(HS_SECRET, { iss: 'https://issuer.test' }), 'TOKEN_INVALID');
  });

  it('rejects a tampered payload and a tampered signature', async () => {
    const [h, p, s] = sign(rsa).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    claims.sub = 'admin';
    await expectRejected(
      `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`,
      'TOKEN_INVALID',
    );
    const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    await expectRejected(`${h}.${p}.${flipped}`, 'TOKEN_INVALID');
  });

  it('rejects garbage that is not a JWT', async () => {
    await expectRejected('not-a-jwt', 'TOKEN_INVALID');
    await expectRejected('a.b.c', 'TOKEN_INVALID');
  });

  it('answers 401 AUTH_REQUIRED without credentials, with a bare challenge', async () => {
    const res = await request(proxy.url).get('/r');
    expect(res.status).toBe(401);
    expect(res.body.error_code).toBe('AUTH_REQUIRED');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="authgate"');
  });

  it('refuses access_token in the query string with 400', async () => {
    const res = await request(proxy.url).get(`/r?access_token=${sign(rsa)}`);
    expect(res.status).toBe(400);
    expect(res.body.error_code).toBe('BAD_REQUEST');
  });

  it('refuses two Authorization headers with 400', async () => {
    const t = sign(rsa);
    const res = await rawRequest(proxy.url, {
      path: '/r',
      headers: ['Host', 'h', 'Authorization', `Bearer ${t}`, 'Authorization', 'Bearer x'],
    });
    expect(res.status).toBe(400);
  });
});

describe('JWKS key rotation, outage and kid floods', () => {
  let first: SigningKey;
  let jwks: JwksServer;
  let upstream: TestUpstream;
  let proxy: TestProxy;

  beforeAll(async () => {
    first = rsaKey();
    jwks = await startJwksServer([first]);
    upstream = await startUpstream();
    proxy = await startProxy({
      auth: {
        // These tests send many bad tokens from one address on purpose.
        failedAuthGuard: { maxFailures: 0 },
        jwt: {
          jwksMinRefetchIntervalSec: 1,
          issuers: [
            {
              issuer: 'https://issuer.test',
              audience: 'api',
              algorithms: ['RS256'],
              jwksUri: jwks.url,
            },
          ],
        },
      },
      routes: [route(upstream.url, { auth: 'required' })],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
    await jwks.close();
  });

  const call = (token: string) =>
    request(proxy.url).get('/r').set('Authorization', `Bearer ${token}`);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('fetched the JWKS once at startup', () => {
    expect(jwks.fetches).toBe(1);
  });

  it('a flood of random kids causes at most one refetch and does not evict the good key', async () => {
    await pause(1100);
    const before = jwks.fetches;
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        call(sign({ ...first, kid: randomUUID() })).then((r) => r.status),
      ),
    );
    expect(results.every((s) => s === 401)).toBe(true);
    expect(jwks.fetches - before).toBeLessThanOrEqual(1);
    expect((await call(sign(first))).status).toBe(200);
  });

  it('picks up a rotated key on its first unknown kid', async () => {
    await pause(1100);
    const second = rsaKey();
    jwks.keys = [second];
    const res = await call(sign(second));
    expect(res.status).toBe(200);
    // the old key left the set: its tokens are refused once the set was refreshed
    expect((await call(sign(first, { claims: { n: 1 } }))).status).toBe(401);
    first = second;
  });

  it('keeps the last good keys while the JWKS endpoint is down; unknown keys are 503, not 401', async () => {
    await pause(1100);
    jwks.down = true;
    try {
      expect((await call(sign(first, { claims: { n: 2 } }))).status).toBe(200);
      const unknown = await call(sign(rsaKey()));
      expect(unknown.status).toBe(503);
      expect(unknown.body.error_code).toBe('AUTH_SERVICE_UNAVAILABLE');
      expect((await call(sign(first, { claims: { n: 3 } }))).status).toBe(200);
    } finally {
      jwks.down = false;
    }
  });

  it('with no keys ever fetched, answers 503 AUTH_SERVICE_UNAVAILABLE (never 401, never a pass)', async () => {
    const down = await startJwksServer([]);
    down.down = true;
    const p = await startProxy({
      auth: {
        // These tests send many bad tokens from one address on purpose.
        failedAuthGuard: { maxFailures: 0 },
        jwt: {
          issuers: [
            {
              issuer: 'https://issuer.test',
              audience: 'api',
              algorithms: ['RS256'],
              jwksUri: down.url,
            },
          ],
        },
      },
      routes: [route(upstream.url, { auth: 'required' })],
    });
    try {
      const res = await request(p.url)
        .get('/r')
        .set('Authorization', `Bearer ${sign(first)}`);
      expect(res.status).toBe(503);
      expect(res.body.error_code).toBe('AUTH_SERVICE_UNAVAILABLE');
    } finally {
      await p.close();
      await down.close();
    }
  });
});

describe('claims read from nested objects (dotted paths), as Keycloak nests roles', () => {
  let rsa: SigningKey;
  let jwks: JwksServer;
  let upstream: TestUpstream;
  let proxy: TestProxy;

  beforeAll(async () => {
    rsa = rsaKey();
    jwks = await startJwksServer([rsa]);
    upstream = await startUpstream();
    proxy = await startProxy({
      auth: {
        failedAuthGuard: { maxFailures: 0 },
        jwt: {
          issuers: [
            {
              issuer: 'https://keycloak.test/realms/ml',
              audience: 'api',
              algorithms: ['RS256'],
              jwksUri: jwks.url,
              claims: {
                userId: 'preferred_username',
                scopes: 'realm_access.roles',
                tenants: 'org.tenants',
              },
            },
          ],
        },
      },
      routes: [route(upstream.url, { auth: 'required', scopes: ['mlflow:read'] })],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
    await jwks.close();
  });

  const token = (claims: Record<string, unknown>) =>
    sign(rsa, {
      iss: 'https://keycloak.test/realms/ml',
      claims: { scope: undefined, tenant_ids: undefined, preferred_username: 'carol', ...claims },
    });
  const call = (t: string, tenant?: string) => {
    const r = request(proxy.url).get('/r').set('Authorization', `Bearer ${t}`);
    return tenant ? r.set('X-Tenant-ID', tenant) : r;
  };

  it('the roles in realm_access.roles are the scopes; org.tenants the tenants', async () => {
    const t = token({
      realm_access: { roles: ['mlflow:read', 'offline_access'] },
      org: { tenants: ['acme'] },
    });
    const res = await call(t, 'acme');
    expect(res.status).toBe(200);
    expect(pairs(upstream.seen[upstream.seen.length - 1]!.rawHeaders)).toContainEqual([
      'X-User-ID',
      'carol',
    ]);
    expect((await call(t, 'other')).body.error_code).toBe('TENANT_FORBIDDEN');
  });

  it('without the role in the nested claim: 403 INSUFFICIENT_SCOPE', async () => {
    const res = await call(token({ realm_access: { roles: ['offline_access'] } }));
    expect([res.status, res.body.error_code]).toEqual([403, 'INSUFFICIENT_SCOPE']);
  });

  it('an unexpected or empty nested claim grants nothing', async () => {
    const res = await call(token({ realm_access: { roles: 'constructor' }, org: { tenants: [] } }));
    expect(res.status).toBe(403);
    const proto = await call(token({ realm_access: {} }));
    expect([proto.status, proto.body.error_code]).toEqual([403, 'INSUFFICIENT_SCOPE']);
  });
});
