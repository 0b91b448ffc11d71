import fc from 'fast-check';
import {
  bearerChallenge,
  parseChallenges,
  registryScopes,
} from '../../../src/upstream-credentials/challenge';

describe('parseChallenges', () => {
  it.each([
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/alpine:pull',
          },
        },
      ],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    [
      'Basic realm="a", Bearer realm="https://x/token", service=y',
      [
        { scheme: 'basic', params: { realm: 'a' } },
        { scheme: 'bearer', params: { realm: 'https://x/token', service: 'y' } },
      ],
    ],
    [
      'Negotiate abc==, Bearer realm="r"',
      [
        { scheme: 'negotiate', params: {} },
        { scheme: 'bearer', params: { realm: 'r' } },
      ],
    ],
    [
      'BEARER Realm="r" , Scope="a b"',
      [{ scheme: 'bearer', params: { realm: 'r', scope: 'a b' } }],
    ],
    ['Bearer realm="quo\\"ted"', [{ scheme: 'bearer', params: { realm: 'quo"ted' } }]],
    ['Bearer', [{ scheme: 'bearer', params: {} }]],
    ['', []],
  ])('%s', (header, expected) => {
    expect(parseChallenges(header)).toEqual(expected);
  });

  const quotedValue = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\r\n]/.test(s));
  const quote = (s: string): string => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;

  it('finds the Bearer challenge among others, whatever the quoting (property)', () => {
    fc.assert(
      fc.property(
        quotedValue,
        fc.option(quotedValue, { nil: undefined }),
        fc.option(quotedValue, { nil: undefined }),
        fc.constantFrom(
          '',
          'Basic realm="other", ',
          'Negotiate abc==, ',
          'Digest realm="d", nonce="n", ',
        ),
        fc.constantFrom('', ', Basic realm="after"'),
        fc.constantFrom(',', ', ', ' , '),
        (realm, service, scope, before, after, sep) => {
          const params = [`realm=${quote(realm)}`];
          if (service !== undefined) params.push(`service=${quote(service)}`);
          if (scope !== undefined) params.push(`scope=${quote(scope)}`);
          const header = `${before}Bearer ${params.join(sep)}${after}`;
          const expected: Record<string, string> = { realm };
          if (service !== undefined) expected.service = service;
          if (scope !== undefined) expected.scope = scope;
          expect(bearerChallenge(header)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        expect(Array.isArray(parseChallenges(s))).toBe(true);
      }),
    );
  });

  it('a challenge without a realm is no token-exchange challenge', () => {
    expect(bearerChallenge('Bearer error="invalid_token"')).toBeUndefined();
    expect(bearerChallenge('Basic realm="x"')).toBeUndefined();
    expect(bearerChallenge(undefined)).toBeUndefined();
  });
});

describe('registryScopes', () => {
  it.each([
    ['GET', '/v2/', ['']],
    ['GET', '/v2', ['']],
    ['GET', '/v2/_catalog', ['registry:catalog:*']],
    [
      'GET',
      '/v2/acme/models/manifests/v1',
      [
        'repository:acme/models:pull',
        'repository:acme/models:pull,push',
        'repository:acme/models:push,pull',
        'repository:acme/models:*',
      ],
    ],
    [
      'HEAD',
      '/v2/a/b/c/blobs/sha256:abc',
      [
        'repository:a/b/c:pull',
        'repository:a/b/c:pull,push',
        'repository:a/b/c:push,pull',
        'repository:a/b/c:*',
      ],
    ],
    [
      'PATCH',
      '/v2/acme/m/blobs/uploads/0b6c-11',
      ['repository:acme/m:pull,push', 'repository:acme/m:push,pull', 'repository:acme/m:*'],
    ],
    [
      'POST',
      '/v2/acme/m/blobs/uploads/',
      ['repository:acme/m:pull,push', 'repository:acme/m:push,pull', 'repository:acme/m:*'],
    ],
    [
      'DELETE',
      '/v2/acme/m/manifests/sha256:1',
      ['repository:acme/m:delete', 'repository:acme/m:*'],
    ],
    [
      'GET',
      '/v2/acme/m/tags/list',
      [
        'repository:acme/m:pull',
        'repository:acme/m:pull,push',
        'repository:acme/m:push,pull',
        'repository:acme/m:*',
      ],
    ],
    ['GET', '/api/items', undefined],
    ['GET', '/v2/acme', undefined],
  ])('%s %s', (method, path, expected) => {
    expect(registryScopes(method, path)).toEqual(expected);
  });
});
