/**
 * a route's tenantHeader (X-Workspace) was not guarded like X-Tenant-ID: its
 * underscore spelling passed, a client could remove it through `Connection`, and repeats or
 * comma lists reached the upstream after authgate had checked one value.
 */
import { sign } from '../../helpers/jwks';
import { pairs, rawRequest, route, useProxy } from '../../helpers/servers';

const SECRET = 'guarded-headers-secret-0123456789abcdef';
const token = sign(SECRET, { iss: 'guard', sub: 'alice', claims: { tenant_ids: ['t1', 't2'] } });

describe('protected headers come from configuration', () => {
  const f = useProxy((url) => ({
    auth: {
      jwt: { issuers: [{ issuer: 'guard', algorithms: ['HS256'], secret: SECRET }] },
      apiKeys: { prefixes: ['hok_'], header: 'X-Team-Key', validateUrl: 'http://127.0.0.1:9/v' },
    },
    routes: [route(url, { auth: 'required', tenantHeader: 'X-Workspace' })],
  }));
  const send = (headers: string[]) =>
    rawRequest(f.proxy.url, {
      path: '/x',
      headers: ['Host', 'h', 'Authorization', `Bearer ${token}`, ...headers],
    });

  it.each([
    ['X_Workspace', 't1'],
    ['x_workspace', 't2'],
    ['X_Team_Key', 'hok_abc'],
  ])('refuses the underscore spelling %s with 400', async (name, value) => {
    const before = f.upstream.seen.length;
    const res = await send([name, value]);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString()).error_code).toBe('BAD_REQUEST');
    expect(f.upstream.seen.length).toBe(before);
  });

  it('X-Workspace cannot be removed through Connection', async () => {
    const res = await send(['Connection', 'X-Workspace', 'X-Workspace', 't1']);
    expect(res.status).toBe(200);
    const got = pairs(f.upstream.seen[f.upstream.seen.length - 1]!.rawHeaders);
    expect(got).toContainEqual(['X-Workspace', 't1']);
  });

  it.each([
    ['two different values', ['X-Workspace', 't1', 'X-Workspace', 't2']],
    ['two equal values', ['X-Workspace', 't1', 'x-workspace', 't1']],
    ['a comma list', ['X-Workspace', 't1, t2']],
    ['two X-User-ID headers', ['X-User-ID', 'alice', 'X-User-ID', 'alice']],
  ])('refuses %s with 400', async (_name, headers) => {
    const before = f.upstream.seen.length;
    const res = await send(headers);
    expect(res.status).toBe(400);
    expect(f.upstream.seen.length).toBe(before);
  });

  it('a workspace outside the principal is 403 TENANT_FORBIDDEN', async () => {
    const res = await send(['X-Workspace', 't9']);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body.toString()).error_code).toBe('TENANT_FORBIDDEN');
  });
});
