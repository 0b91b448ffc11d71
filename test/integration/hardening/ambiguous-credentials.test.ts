/**
 * a request with two different credentials (a bearer token and an API-key header,
 * a bearer API key and X-API-Key) was decided on whichever came last, and both reached the
 * upstream. A malformed Authorization ("Bearer x y", "Basic <jwt>") got a 401
 * without `error="invalid_token"`.
 */
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { sign } from '../../helpers/jwks';
import {
  rawRequest,
  route,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const SECRET = 'ambiguous-credentials-0123456789abcdef';
const jwt = sign(SECRET, { iss: 'amb', sub: 'alice' });

describe('ambiguous and malformed credentials', () => {
  let upstream: TestUpstream;
  let service: AuthService;
  let proxy: TestProxy;
  beforeAll(async () => {
    upstream = await startUpstream();
    service = await startAuthService();
    service.keys.set('hok_live_good', { user_id: 'bob' });
    proxy = await startProxy({
      auth: {
        jwt: { issuers: [{ issuer: 'amb', algorithms: ['HS256'], secret: SECRET }] },
        apiKeys: { prefixes: ['hok_live_'], validateUrl: service.url },
      },
      routes: [route(upstream.url, { auth: 'required' })],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await service.close();
    await upstream.close();
  });
  const send = (headers: string[]) =>
    rawRequest(proxy.url, { path: '/x', headers: ['Host', 'h', ...headers] });

  it.each([
    ['a JWT and an X-API-Key', ['Authorization', `Bearer ${jwt}`, 'X-API-Key', 'hok_live_good']],
    ['an X-API-Key and a JWT', ['X-API-Key', 'hok_live_good', 'Authorization', `Bearer ${jwt}`]],
    [
      'a bearer API key and another X-API-Key',
      ['Authorization', 'Bearer hok_live_good', 'X-API-Key', 'hok_live_other'],
    ],
    [
      'a Basic credential with a JWT and an X-API-Key',
      ['Authorization', `Basic ${jwt}`, 'X-API-Key', 'hok_live_good'],
    ],
  ])('%s: 400, nothing forwarded, no auth-service call', async (_name, headers) => {
    const before = { up: upstream.seen.length, calls: service.calls };
    const res = await send(headers);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString())).toMatchObject({
      error_code: 'BAD_REQUEST',
      status: 400,
    });
    expect(upstream.seen.length).toBe(before.up);
    expect(service.calls).toBe(before.calls);
  });

  it('the same API key in both places is one credential', async () => {
    const res = await send(['Authorization', 'Bearer hok_live_good', 'X-API-Key', 'hok_live_good']);
    expect(res.status).toBe(200);
  });

  it.each([
    ['Bearer x y', 'Bearer x y'],
    ['Bearer,x', 'Bearer,x'],
    ['Bearer with nothing', 'Bearer'],
    ['Basic <jwt>', `Basic ${jwt}`],
    ['a bare JWT', jwt],
    ['Token <api key>', 'Token hok_live_good'],
  ])('%s: 401 TOKEN_INVALID with error="invalid_token"', async (_name, value) => {
    const before = upstream.seen.length;
    const res = await send(['Authorization', value]);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body.toString()).error_code).toBe('TOKEN_INVALID');
    expect(res.headers['www-authenticate']).toMatch(
      /^Bearer realm="authgate", error="invalid_token"/,
    );
    expect(upstream.seen.length).toBe(before);
  });

  it('an unrelated scheme is no credential: 401 AUTH_REQUIRED without an error attribute', async () => {
    const res = await send(['Authorization', 'Basic dXNlcjpwYXNz']);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body.toString()).error_code).toBe('AUTH_REQUIRED');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="authgate"');
  });
});
