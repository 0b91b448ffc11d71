import { execFileSync } from 'node:child_process';
import request from 'supertest';
import {
  ecKey,
  rsaKey,
  startJwksServer,
  type JwksServer,
  type SigningKey,
} from '../../helpers/jwks';
import {
  route,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

/** Debian's python3-jwt (PyJWT) on the system interpreter; .ci/run installs it. */
const PYTHON = '/usr/bin/python3';
const HS_SECRET = 'pyjwt-interop-secret-0123456789abcdef';

function pyjwtSign(alg: string, key: string, kid: string | null, iss: string): string {
  const script = `
import sys, json, time, jwt
alg, key, kid, iss = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
now = int(time.time())
claims = {"iss": iss, "sub": "py-user", "aud": "api", "iat": now, "exp": now + 300,
          "scope": "read", "tenant_ids": ["t1"]}
headers = {"kid": kid} if kid else None
print(jwt.encode(claims, key, algorithm=alg, headers=headers))
`;
  return execFileSync(PYTHON, ['-c', script, alg, key, kid ?? '', iss], {
    encoding: 'utf8',
  }).trim();
}

function tamper(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  claims.sub = 'someone-else';
  return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
}

describe('tokens minted by PyJWT (an independent implementation)', () => {
  let rsa: SigningKey;
  let ec: SigningKey;
  let jwks: JwksServer;
  let upstream: TestUpstream;
  let proxy: TestProxy;

  beforeAll(async () => {
    rsa = rsaKey();
    ec = ecKey();
    jwks = await startJwksServer([rsa, ec]);
    upstream = await startUpstream();
    proxy = await startProxy({
      auth: {
        jwt: {
          issuers: [
            { issuer: 'py-rs', audience: 'api', algorithms: ['RS256', 'ES256'], jwksUri: jwks.url },
            { issuer: 'py-hs', audience: 'api', algorithms: ['HS256'], secret: HS_SECRET },
          ],
        },
      },
      routes: [route(upstream.url, { auth: 'required', scopes: ['read'] })],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
    await jwks.close();
  });

  const pem = (k: SigningKey): string =>
    k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cases: Array<[string, () => string]> = [
    ['HS256', () => pyjwtSign('HS256', HS_SECRET, null, 'py-hs')],
    ['RS256', () => pyjwtSign('RS256', pem(rsa), rsa.kid, 'py-rs')],
    ['ES256', () => pyjwtSign('ES256', pem(ec), ec.kid, 'py-rs')],
  ];

  it.each(cases)('%s: accepted, and the tampered copy rejected', async (_alg, mint) => {
    const token = mint();
    const ok = await request(proxy.url).get('/py').set('Authorization', `Bearer ${token}`);
    expect(ok.status).toBe(200);
    const seen = upstream.seen[upstream.seen.length - 1]!.rawHeaders;
    expect(seen[seen.indexOf('X-User-ID') + 1]).toBe('py-user');
    const bad = await request(proxy.url)
      .get('/py')
      .set('Authorization', `Bearer ${tamper(token)}`);
    expect(bad.status).toBe(401);
    expect(bad.body.error_code).toBe('TOKEN_INVALID');
  });
});
