/**
 * Cross-field checks run on the typed, defaulted config, one function per section;
 * unknown keys get a "did you mean"; YAML errors carry their line and column.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  configProblems,
  configWarnings,
  routeProblems,
  serverProblems,
} from '../../../src/config/checks';
import { closestKey, editDistance, knownKeysAt } from '../../../src/config/known-keys';
import { ConfigError, loadConfigFile, parseConfig } from '../../../src/config/load';
import { configSchema } from '../../../src/config/schema';
import fc from 'fast-check';

const jwt = { jwt: { issuers: [{ issuer: 'i', algorithms: ['HS256'], secret: 's'.repeat(32) }] } };
const route = (extra: Record<string, unknown> = {}) => ({
  name: 'a',
  prefix: '/a',
  upstream: 'http://u',
  auth: 'none',
  ...extra,
});
/** The typed, defaulted config of a raw one (as the checks see it). */
const typed = (raw: Record<string, unknown>) => configSchema.parse(raw);

describe('routeProblems', () => {
  it.each([
    ['unique names and prefixes', [route(), route({ name: 'b', prefix: '/b' })], {}, []],
    ['a repeated name', [route(), route({ prefix: '/b' })], {}, [['routes', 1, 'name']]],
    [
      'a repeated prefix, trailing slash aside',
      [route(), route({ name: 'b', prefix: '/a/' })],
      {},
      [['routes', 1, 'prefix']],
    ],
    [
      'auth required with no authenticator',
      [route({ auth: 'required' })],
      {},
      [['routes', 0, 'auth']],
    ],
    [
      'the default auth (required) with no authenticator',
      [{ name: 'a', prefix: '/', upstream: 'http://u' }],
      {},
      [['routes', 0, 'auth']],
    ],
    ['auth optional with a JWT issuer', [route({ auth: 'optional' })], jwt, []],
    [
      'upstreamAuth when-absent on a route that requires auth (a warning, not a problem)',
      [
        route({
          auth: 'required',
          upstreamAuth: { mode: 'when-absent', providers: [{ type: 'env' }] },
        }),
      ],
      jwt,
      [],
    ],
    [
      'upstreamAuth when-absent on an optional route',
      [
        route({
          auth: 'optional',
          upstreamAuth: { mode: 'when-absent', providers: [{ type: 'env' }] },
        }),
      ],
      jwt,
      [],
    ],
  ])('%s', (_name, routes, auth, paths) => {
    expect(routeProblems(typed({ routes, auth })).map((p) => p.path)).toEqual(paths);
  });
});

describe('upstreamAuth schema', () => {
  it.each([
    [
      'service without a provider',
      { mode: 'service' },
      'routes.0.upstreamAuth.providers: mode service needs at least one provider',
    ],
    [
      'an unknown provider type',
      { mode: 'service', providers: [{ type: 'vault' }] },
      'routes.0.upstreamAuth.providers.0.type',
    ],
    [
      'a command with no argv',
      { mode: 'service', providers: [{ type: 'command', argv: [] }] },
      'routes.0.upstreamAuth.providers.0.argv',
    ],
    [
      'a realm that is no URL',
      {
        mode: 'service',
        providers: [{ type: 'env' }],
        tokenExchange: { realms: ['token-server'] },
      },
      'routes.0.upstreamAuth.tokenExchange.realms.0',
    ],
  ])('%s is refused', (_name, upstreamAuth, path) => {
    const result = configSchema.safeParse({ routes: [route({ upstreamAuth })] });
    expect(result.success).toBe(false);
    const found = result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(found.some((line) => line.startsWith(path))).toBe(true);
  });

  it('takes the shorthands `- env` and `- file: {path}` for `- type: ...`', () => {
    const parsed = typed({
      routes: [
        route({
          upstreamAuth: {
            mode: 'service',
            providers: ['env', { file: { path: '/run/s' } }, { dockerConfig: null }],
          },
        }),
      ],
    }).routes[0]?.upstreamAuth.providers;
    expect(parsed).toMatchObject([
      { type: 'env', usernameVar: 'REGISTRY_USERNAME' },
      { type: 'file', path: '/run/s' },
      { type: 'dockerConfig' },
    ]);
  });

  it('defaults to mode none with the caller’s credential', () => {
    expect(typed({ routes: [route()] }).routes[0]?.upstreamAuth).toMatchObject({
      mode: 'none',
      providers: [],
      refreshBeforeSec: 60,
      tokenExchange: { realms: [], replayBodyBytes: 65536 },
    });
  });
});

describe('serverProblems', () => {
  it.each([
    ['defaults', {}, {}, 0],
    ['ready = health', { healthPath: '/h', readyPath: '/h' }, {}, 1],
    [
      'metrics on the main port at the health path',
      { healthPath: '/m' },
      { port: 0, path: '/m' },
      1,
    ],
    [
      'metrics on its own port may share a path',
      { healthPath: '/m' },
      { port: 9100, path: '/m' },
      0,
    ],
  ])('%s', (_name, server, metrics, count) => {
    expect(serverProblems(typed({ server, metrics }))).toHaveLength(count);
  });

  it.each<[string, string[], string[], number]>([
    ['disjoint', ['10.0.0.0/8'], ['192.168.0.0/16'], 0],
    ['internal inside trusted', ['10.0.0.0/8'], ['10.20.0.0/16'], 1],
    ['trusted inside internal', ['10.20.0.1/32'], ['10.0.0.0/8'], 1],
    ['the same address', ['127.0.0.1'], ['127.0.0.1/32'], 1],
    ['host bits set in the CIDR', ['10.1.2.3/8'], ['10.200.0.0/16'], 1],
    ['IPv6 overlap', ['fd00::/8'], ['fd00:20::/32'], 1],
    ['IPv4 vs IPv6', ['10.0.0.0/8'], ['fd00::/8'], 0],
    ['adjacent blocks', ['10.0.0.0/16'], ['10.1.0.0/16'], 0],
    [
      'two internal networks, one overlapping',
      ['10.0.0.0/8'],
      ['192.168.0.0/16', '10.9.0.0/16'],
      1,
    ],
  ])('trustedProxies vs internalNetworks: %s → %d problem(s)', (_n, trusted, internal, count) => {
    const problems = serverProblems(
      typed({ server: { trustedProxies: trusted, internalNetworks: internal }, metrics: {} }),
    );
    expect(problems).toHaveLength(count);
    for (const p of problems) expect(p.path.slice(0, 2)).toEqual(['server', 'internalNetworks']);
  });
});

describe('configProblems / configWarnings', () => {
  it('collects every section', () => {
    const config = typed({
      server: { healthPath: '/x', readyPath: '/x' },
      routes: [route(), route({ prefix: '/b' })],
    });
    expect(configProblems(config)).toHaveLength(2);
  });
  it('a per-method scope map without "*" is a warning, not a problem', () => {
    const config = typed({
      auth: jwt,
      routes: [route({ auth: 'required', scopes: { GET: ['r'] } })],
    });
    expect(configProblems(config)).toEqual([]);
    expect(configWarnings(config)).toEqual([
      {
        path: ['routes', 0, 'scopes'],
        message: 'has no "*": every method but GET is denied (403)',
      },
    ]);
  });
  it('when-absent on a route that requires auth is a warning', () => {
    const whenAbsent = { mode: 'when-absent', providers: [{ type: 'env' }] };
    expect(
      configWarnings(
        typed({ auth: jwt, routes: [route({ auth: 'required', upstreamAuth: whenAbsent })] }),
      ).map((w) => w.path),
    ).toEqual([['routes', 0, 'upstreamAuth', 'mode']]);
  });

  it('authgate’s own credential on a route without authentication is a warning', () => {
    const service = { mode: 'service', providers: [{ type: 'env' }] };
    expect(
      configWarnings(typed({ routes: [route({ auth: 'none', upstreamAuth: service })] })),
    ).toEqual([
      {
        path: ['routes', 0, 'upstreamAuth', 'mode'],
        message:
          'is "service" on a route with auth "none": every caller, unauthenticated, reaches the upstream with authgate\'s own credential',
      },
    ]);
    expect(
      configWarnings(
        typed({ auth: jwt, routes: [route({ auth: 'required', upstreamAuth: service })] }),
      ),
    ).toEqual([]);
  });
});

describe('unknown keys: did you mean', () => {
  const problems = (raw: unknown): string[] => {
    try {
      parseConfig(raw, {});
      return [];
    } catch (err) {
      return (err as ConfigError).problems.map((p) => `${p.path}: ${p.reason}`);
    }
  };
  it.each([
    [
      { server: { prot: 80 }, routes: [route()] },
      'server.prot: unknown key (did you mean "port"?)',
    ],
    [
      { server: { drainDelayMS: 1 }, routes: [route()] },
      'server.drainDelayMS: unknown key (did you mean "drainDelayMs"?)',
    ],
    [
      { routes: [route({ stripPrefx: true })] },
      'routes[0].stripPrefx: unknown key (did you mean "stripPrefix"?)',
    ],
    [
      { routes: [route({ rateLimit: { requestsPerMinute: 1, burts: 2 } })] },
      'routes[0].rateLimit.burts: unknown key (did you mean "burst"?)',
    ],
    [
      { auth: { jwt: { isuers: [] } }, routes: [route()] },
      'auth.jwt.isuers: unknown key (did you mean "issuers"?)',
    ],
    [
      {
        redis: { sentinel: { name: 'm', sentinels: [{ host: 'h', port: 1, prot: 2 }] } },
        routes: [route()],
      },
      'redis.sentinel.sentinels[0].prot: unknown key (did you mean "port"?)',
    ],
    [
      { server: { completelyDifferent: 1 }, routes: [route()] },
      'server.completelyDifferent: unknown key',
    ],
  ])('%j', (raw, expected) => {
    expect(problems(raw)).toContain(expected);
  });
  it('cross-field problems are reported together with field problems elsewhere', () => {
    const found = problems({
      server: { port: 'eighty' },
      routes: [route(), route({ prefix: '/b' }), route({ name: 'x y' })],
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^server\.port: /),
        'routes[1].name: duplicates routes[0].name',
        expect.stringMatching(/^routes\[2\]\.name: /),
      ]),
    );
  });
  it('a missing field is "is required"', () => {
    expect(problems({ routes: [{ name: 'a', upstream: 'http://u' }] })).toContain(
      'routes[0].prefix: is required',
    );
  });
  it('knownKeysAt walks lists and wrappers', () => {
    expect(knownKeysAt(configSchema, ['routes', 0, 'timeouts'])).toEqual([
      'connectMs',
      'responseMs',
    ]);
    expect(knownKeysAt(configSchema, ['nowhere'])).toEqual([]);
  });
  it('editDistance counts a swap of neighbours as one edit', () => {
    expect(editDistance('prot', 'port')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closestKey('x', ['port'])).toBeUndefined();
  });
  it('property: editDistance is a metric (symmetric, zero only for equal strings, triangle)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (a, b) => {
        const d = editDistance(a, b);
        return (
          d === editDistance(b, a) &&
          (d === 0) === (a.toLowerCase() === b.toLowerCase()) &&
          d <= Math.max(a.length, b.length)
        );
      }),
    );
  });
});

describe('YAML errors carry line and column, never the file text', () => {
  it.each([
    ['server:\n  port: 8080\n   host: x\n', 'line 2, column 9'],
    ['routes:\n  - name: "unterminated\n', 'line 3, column 1'],
  ])('%j', (text, where) => {
    const file = join(mkdtempSync(join(tmpdir(), 'authgate-yaml-')), 'a.yaml');
    writeFileSync(file, text);
    try {
      loadConfigFile(file, {});
      throw new Error('no error');
    } catch (err) {
      const [first] = (err as ConfigError).problems;
      expect(first!.path.startsWith(where)).toBe(true);
      // In words, with the parser's code, and never the text itself.
      expect(first!.reason).toMatch(/^YAML: [a-z].* \([A-Z_]+\)/);
      expect((err as ConfigError).problems).toHaveLength(1);
    }
  });
});

describe('configWarnings: authgate lending its credential to anonymous callers', () => {
  it.each([
    ['optional', 1],
    ['required', 0],
  ])('service on an auth %s route → %d warning(s)', (auth, count) => {
    const config = parseConfig({
      auth: { jwt: { issuers: [{ issuer: 'i', algorithms: ['HS256'], secret: 'x'.repeat(32) }] } },
      routes: [
        {
          name: 'svc',
          prefix: '/',
          upstream: 'http://127.0.0.1:1',
          auth,
          upstreamAuth: { mode: 'service', providers: [{ type: 'env' }] },
        },
      ],
    });
    const warnings = configWarnings(config).filter((w) => /anonymous callers/.test(w.message));
    expect(warnings).toHaveLength(count);
  });
});

describe('auth.apiKeys.hashSecret', () => {
  const parse = (hashSecret: string | undefined) => {
    try {
      parseConfig(
        {
          auth: {
            apiKeys: {
              prefixes: ['hok_'],
              validateUrl: 'http://127.0.0.1:9/v',
              ...(hashSecret === undefined ? {} : { hashSecret }),
            },
          },
          routes: [{ name: 'a', prefix: '/', upstream: 'http://u' }],
        },
        {},
      );
      return 'ok';
    } catch (e) {
      return String((e as Error).message);
    }
  };
  it.each<[string, string | undefined, boolean]>([
    ['absent: a random key per process', undefined, true],
    ['empty (an unset ${VAR:-}): the same', '', true],
    ['32 bytes', 'k'.repeat(32), true],
    ['31 bytes', 'k'.repeat(31), false],
    ['16 characters of 2 bytes each', 'é'.repeat(16), true],
    ['short', 'secret', false],
  ])('%s', (_name, value, ok) => {
    const out = parse(value);
    if (ok) expect(out).toBe('ok');
    else {
      expect(out).toMatch(/hashSecret.*at least 32 bytes/s);
      expect(out).not.toContain(value!);
    }
  });
});

describe('environment overrides', () => {
  const raw = () => ({
    server: { port: 8080 },
    metrics: { port: 9090 },
    routes: [{ name: 'a', prefix: '/', upstream: 'http://u', auth: 'none' }],
  });
  it.each<[string, NodeJS.ProcessEnv, number, number]>([
    ['none', {}, 8080, 9090],
    ['PORT', { PORT: '8181' }, 8181, 9090],
    ['METRICS_PORT', { METRICS_PORT: '9191' }, 8080, 9191],
    ['METRICS_PORT=0: metrics on the main listener', { METRICS_PORT: '0' }, 8080, 0],
    ['both', { PORT: '1', METRICS_PORT: '2' }, 1, 2],
    ['empty values change nothing', { PORT: '', METRICS_PORT: '' }, 8080, 9090],
  ])('%s', (_name, env, port, metricsPort) => {
    const config = parseConfig(raw(), env);
    expect([config.server.port, config.metrics.port]).toEqual([port, metricsPort]);
  });

  it('a METRICS_PORT that is not a port is a config error', () => {
    expect(() => parseConfig(raw(), { METRICS_PORT: 'nine' })).toThrow(/metrics\.port/);
  });
});
