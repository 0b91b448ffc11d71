import fc from 'fast-check';
import {
  relativeToUpstream,
  withUpstreamAuthorization,
} from '../../../src/proxy/upstream-credential';
import { RouteTable, pathTenant } from '../../../src/routes/route-table';
import { configSchema } from '../../../src/config/schema';

const DROP = new Set(['authorization', 'x-api-key', 'x-amzn-oidc-data', 'x-amzn-oidc-accesstoken']);

describe('withUpstreamAuthorization', () => {
  it.each([
    [[], ['Authorization', 'Basic c3Zj']],
    [
      ['Host', 'h', 'authorization', 'Bearer caller'],
      ['Host', 'h', 'authorization', 'Basic c3Zj'],
    ],
    [
      [
        'Authorization',
        'Bearer a',
        'X-Api-Key',
        'hok_live_x',
        'Authorization',
        'Bearer b',
        'Accept',
        '*/*',
      ],
      ['Authorization', 'Basic c3Zj', 'Accept', '*/*'],
    ],
    [
      ['X-User-ID', 'alice', 'x-amzn-oidc-data', 'jwt'],
      ['X-User-ID', 'alice', 'Authorization', 'Basic c3Zj'],
    ],
  ])('%j', (headers, expected) => {
    expect(withUpstreamAuthorization(headers, 'Basic c3Zj', DROP)).toEqual(expected);
  });

  const name = fc.constantFrom(
    'Authorization',
    'AUTHORIZATION',
    'X-API-Key',
    'x-amzn-oidc-data',
    'X-User-ID',
    'X-Tenant-ID',
    'Accept',
    'traceparent',
    'X-Custom',
  );
  it('leaves exactly one Authorization (ours), none of the caller’s credentials, the rest in order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name, fc.string({ maxLength: 8 })), { maxLength: 12 }),
        (list) => {
          const raw = list.flat();
          const out = withUpstreamAuthorization(raw, 'Bearer ours', DROP);
          const pairs: Array<[string, string]> = [];
          for (let i = 0; i < out.length; i += 2)
            pairs.push([out[i] as string, out[i + 1] as string]);
          const auth = pairs.filter(([n]) => n.toLowerCase() === 'authorization');
          expect(auth.map(([, v]) => v)).toEqual(['Bearer ours']);
          expect(
            pairs.filter(([n]) => DROP.has(n.toLowerCase()) && n.toLowerCase() !== 'authorization'),
          ).toEqual([]);
          const kept = list.filter(([n]) => !DROP.has(n.toLowerCase()));
          expect(pairs.filter(([n]) => !DROP.has(n.toLowerCase()))).toEqual(kept);
        },
      ),
    );
  });
});

describe('pathTenant', () => {
  const table = (prefix: string, segment?: number) =>
    new RouteTable(
      configSchema.parse({
        routes: [
          { name: 'r', prefix, upstream: 'http://u', auth: 'none', tenantPathSegment: segment },
        ],
      }).routes,
    );
  it.each([
    ['/v2', 1, '/v2/', undefined],
    ['/v2', 1, '/v2', undefined],
    ['/v2', 1, '/v2/acme/models/manifests/v1', 'acme'],
    ['/v2', 1, '/v2/_catalog', '_catalog'],
    ['/v2', 2, '/v2/acme/models/manifests/v1', 'models'],
    ['/', 1, '/t1/data', 't1'],
    ['/api', 1, '/api', undefined],
    ['/api', undefined, '/api/t1/x', undefined],
  ])('prefix %s, segment %s: %s → %s', (prefix, segment, path, tenant) => {
    const t = table(prefix, segment);
    expect(pathTenant(t.match(path), path)).toBe(tenant);
  });
});

describe('relativeToUpstream: the upstream’s own Location comes back through authgate', () => {
  const registry = { origin: 'http://reg:5000', basePath: '' };
  it.each([
    [
      registry,
      '/v2',
      false,
      'http://reg:5000/v2/a/b/blobs/uploads/u1?_state=x',
      '/v2/a/b/blobs/uploads/u1?_state=x',
    ],
    [registry, '/v2', false, '/v2/a/b/blobs/uploads/u1', '/v2/a/b/blobs/uploads/u1'],
    // A storage redirect (another origin) is the client's to follow.
    [
      registry,
      '/v2',
      false,
      'https://blob.core.windows.net/x?sig=1',
      'https://blob.core.windows.net/x?sig=1',
    ],
    [registry, '/v2', false, 'http://reg:5001/v2/x', 'http://reg:5001/v2/x'],
    [registry, '/v2', false, 'http://user:pw@reg:5000/v2/x', 'http://user:pw@reg:5000/v2/x'],
    [
      { origin: 'http://api', basePath: '/base' },
      '/svc',
      true,
      'http://api/base/items/1',
      '/svc/items/1',
    ],
    [
      { origin: 'http://api', basePath: '/base' },
      '/svc',
      true,
      'http://api/other',
      'http://api/other',
    ],
    [{ origin: 'http://api', basePath: '' }, '/svc', true, 'http://api/', '/svc'],
    [registry, '/v2', false, 'not a url', 'not a url'],
    // Never protocol-relative: a browser would read these as another origin.
    [registry, '/', false, 'http://reg:5000//evil.example/x', '/evil.example/x'],
    [registry, '/', false, 'http://reg:5000/\\evil.example/x', '/evil.example/x'],
    [registry, '/', false, 'http://reg:5000///evil.example', '/evil.example'],
    [
      { origin: 'http://api', basePath: '/base' },
      '/',
      false,
      'http://api/base//evil.example',
      '/evil.example',
    ],
  ])('%j %s strip=%s: %s', (upstream, prefix, strip, value, expected) => {
    expect(relativeToUpstream(value, upstream, prefix, strip)).toBe(expected);
  });
});

describe('relativeToUpstream: property — a rewritten Location never starts with // or /\\', () => {
  it('holds for any path the upstream names', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30 }),
        fc.constantFrom('/', '/svc'),
        fc.boolean(),
        (path, prefix, strip) => {
          const value = `http://reg:5000/${path}`;
          const out = relativeToUpstream(
            value,
            { origin: 'http://reg:5000', basePath: '' },
            prefix,
            strip,
          );
          if (out !== value) expect(out).not.toMatch(/^[/\\]{2}/);
        },
      ),
    );
  });
});
