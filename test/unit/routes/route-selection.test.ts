import fc from 'fast-check';
import { parseConfig } from '../../../src/config/load';
import { isAuthgateError } from '../../../src/errors';
import {
  RouteTable,
  asciiLower,
  repositoryParamTenants,
  withoutPathParameters,
} from '../../../src/routes/route-table';

const table = (routes: Array<Record<string, unknown>>) =>
  new RouteTable(
    parseConfig({
      routes: routes.map((r) => ({ upstream: 'http://127.0.0.1:1', auth: 'none', ...r })),
    }).routes,
  );

const outcome = (t: RouteTable, path: string): string => {
  try {
    return t.match(path).name;
  } catch (err) {
    return isAuthgateError(err) ? `${err.status} ${err.reason}` : String(err);
  }
};

describe('RouteTable.match: selection ignores case; ";" may not change the route', () => {
  const t = table([
    { name: 'admin', prefix: '/admin' },
    { name: 'admin-api', prefix: '/Admin/API' },
    { name: 'public', prefix: '/' },
  ]);
  it.each([
    ['/admin', 'admin'],
    ['/ADMIN', 'admin'],
    ['/Admin/users', 'admin'],
    ['/admin/api/x', 'admin-api'],
    ['/ADMIN/Api', 'admin-api'],
    ['/adminx', 'public'],
    ['/ADMINX/y', 'public'],
    ['/admin;x/users', '400 path_parameter_route'],
    ['/ADMIN;jsessionid=1', '400 path_parameter_route'],
    ['/admin/users;x', 'admin'],
    ['/admin/api;v=1/x', '400 path_parameter_route'],
    ['/pub;x=1/y', 'public'],
    ['/%C3%A9', 'public'],
  ])('%s → %s', (path, expected) => {
    expect(outcome(t, path)).toBe(expected);
  });

  it('no catch-all: an unknown path is 404', () => {
    expect(outcome(table([{ name: 'a', prefix: '/a' }]), '/b')).toBe('404 no_route');
  });

  const segment = fc.stringMatching(/^[A-Za-z0-9._~-]{1,6}$/);
  const path = fc.array(segment, { maxLength: 4 }).map((s) => `/${s.join('/')}`);

  it('property: a path and any case variant of it select the same route (or the same refusal)', () => {
    const t2 = table([
      { name: 'a', prefix: '/a' },
      { name: 'ab', prefix: '/a/B' },
      { name: 'x', prefix: '/Xy' },
      { name: 'root', prefix: '/' },
    ]);
    const variant = (p: string, flips: boolean[]) =>
      [...p].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c.toLowerCase())).join('');
    fc.assert(
      fc.property(path, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (p, flips) => {
        expect(outcome(t2, variant(p, flips))).toBe(outcome(t2, p.toLowerCase()));
      }),
    );
  });

  it('property: whatever route a path gets, dropping its ";" parameters selects the same one', () => {
    const withParams = fc
      .array(fc.tuple(segment, fc.option(segment, { nil: undefined })), { maxLength: 4 })
      .map((s) => `/${s.map(([seg, p]) => (p === undefined ? seg : `${seg};${p}`)).join('/')}`);
    fc.assert(
      fc.property(withParams, (p) => {
        const got = outcome(t, p);
        if (got.startsWith('400')) return;
        expect(got).toBe(outcome(t, withoutPathParameters(p)));
      }),
    );
  });

  it('asciiLower keeps the length (prefixes are sliced off by length)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(asciiLower(s)).toHaveLength(s.length);
      }),
    );
  });
});

describe('repositoryParamTenants: repositories named in the query', () => {
  const registry = table([{ name: 'r', prefix: '/v2', tenantPathSegment: 1 }]).routes[0]!;
  const rooted = table([{ name: 'r', prefix: '/', tenantPathSegment: 2 }]).routes[0]!;
  const plain = table([{ name: 'p', prefix: '/', auth: 'none' }]).routes[0]!;
  const tenants = (route: typeof registry, path: string, search: string): string => {
    try {
      return repositoryParamTenants(route, path, search).join(',');
    } catch (err) {
      return isAuthgateError(err) ? `${err.status} ${err.reason}` : String(err);
    }
  };
  it.each<[string, typeof registry, string, string, string]>([
    ['no query', registry, '/v2/acme/x/blobs/uploads/', '', ''],
    [
      'a mount from another tenant',
      registry,
      '/v2/acme/x/blobs/uploads/',
      '?mount=d&from=beta/m',
      'beta',
    ],
    ['encoded slash', registry, '/v2/acme/x/blobs/uploads/', '?from=beta%2Fm', 'beta'],
    ['encoded letters', registry, '/v2/acme/x/blobs/uploads/', '?from=%62eta/m', 'beta'],
    ['encoded name', registry, '/v2/acme/x/blobs/uploads/', '?fr%6Fm=beta/m', 'beta'],
    ['upper-case name', registry, '/v2/acme/x/blobs/uploads/', '?FROM=beta/m', 'beta'],
    ['two of them', registry, '/v2/acme/x/blobs/uploads/', '?from=acme/a&from=beta/b', 'acme,beta'],
    ['a single-segment name', registry, '/v2/acme/x/blobs/uploads/', '?from=beta', 'beta'],
    [
      'prefix "/" with /v2 in the path',
      rooted,
      '/v2/acme/x/blobs/uploads/',
      '?from=beta/m',
      'beta',
    ],
    [
      'dot-segments',
      registry,
      '/v2/acme/x/blobs/uploads/',
      '?from=acme/../beta',
      '400 bad_repository_param',
    ],
    [
      'an empty segment',
      registry,
      '/v2/acme/x/blobs/uploads/',
      '?from=/beta',
      '400 bad_repository_param',
    ],
    ['empty value', registry, '/v2/acme/x/blobs/uploads/', '?from=', '400 bad_repository_param'],
    [
      'bad percent-encoding',
      registry,
      '/v2/acme/x/blobs/uploads/',
      '?from=%zz',
      '400 bad_query_encoding',
    ],
    [
      'other parameters are not repositories',
      registry,
      '/v2/acme/x/blobs/uploads/',
      '?mount=beta/m&n=beta',
      '',
    ],
    [
      'routes without tenantPathSegment name none',
      plain,
      '/v2/acme/x/blobs/uploads/',
      '?from=beta/m',
      '',
    ],
  ])('%s', (_name, route, path, search, expected) => {
    expect(tenants(route, path, search)).toBe(expected);
  });
});
