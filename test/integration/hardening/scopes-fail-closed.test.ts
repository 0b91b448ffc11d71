/**
 * a per-method `scopes` map without "*" let every method it did not list through
 * with no scope at all.
 */
import { sign } from '../../helpers/jwks';
import { runCli, writeConfig } from '../../helpers/process';
import { rawRequest, route, useProxy } from '../../helpers/servers';

const SECRET = 'scopes-fail-closed-secret-0123456789ab';
const token = sign(SECRET, { iss: 'sc', sub: 'alice', claims: { scope: 'read write admin' } });
const auth = { jwt: { issuers: [{ issuer: 'sc', algorithms: ['HS256'], secret: SECRET }] } };

describe('per-method scopes fail closed', () => {
  const f = useProxy((url) => ({
    auth,
    routes: [
      route(url, { name: 'mapped', prefix: '/m', auth: 'required', scopes: { GET: ['read'] } }),
      route(url, { name: 'optional', prefix: '/o', auth: 'optional', scopes: { GET: [] } }),
      route(url, {
        name: 'star',
        prefix: '/s',
        auth: 'required',
        scopes: { GET: ['read'], '*': ['write'] },
      }),
    ],
  }));
  const send = (method: string, path: string, withToken = true) =>
    rawRequest(f.proxy.url, {
      method,
      path,
      headers: ['Host', 'h', ...(withToken ? ['Authorization', `Bearer ${token}`] : [])],
    });

  it('the listed method passes', async () => {
    expect((await send('GET', '/m')).status).toBe(200);
  });

  it.each(['POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'])(
    '%s, not listed and no "*": 403 INSUFFICIENT_SCOPE, nothing forwarded',
    async (method) => {
      const before = f.upstream.seen.length;
      const res = await send(method, '/m');
      expect(res.status).toBe(403);
      if (method !== 'HEAD')
        expect(JSON.parse(res.body.toString()).error_code).toBe('INSUFFICIENT_SCOPE');
      expect(f.upstream.seen.length).toBe(before);
    },
  );

  it('also for an anonymous caller on an optional route', async () => {
    expect((await send('GET', '/o', false)).status).toBe(200);
    expect((await send('DELETE', '/o', false)).status).toBe(403);
  });

  it('"*" still covers every other method', async () => {
    expect((await send('DELETE', '/s')).status).toBe(200);
  });

  it('check-config warns about a map without "*" and still exits 0', async () => {
    const file = writeConfig({
      auth: { jwt: { issuers: [{ issuer: 'sc', algorithms: ['HS256'], secret: SECRET }] } },
      routes: [
        { name: 'm', prefix: '/m', upstream: 'http://127.0.0.1:9', scopes: { GET: ['read'] } },
      ],
    });
    const r = await runCli(['check-config', '--config', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /warning: routes\[0\]\.scopes: has no "\*": every method but GET is denied/,
    );
  });
});
