/**
 * each stage of the chain on its own, table-driven: health, hygiene (path, guarded
 * headers, credentials, client address), upstream headers, rate limit, and the lifecycle.
 */
import { NetworkList } from '../../../src/headers/forwarded';
import { Lifecycle } from '../../../src/lifecycle';
import { createLogger } from '../../../src/logging/logger';
import { parseConfig } from '../../../src/config/load';
import { Metrics } from '../../../src/metrics';
import { RateLimiter } from '../../../src/rate-limit';
import { RouteTable } from '../../../src/routes/route-table';
import type { ServerResponse } from 'node:http';
import { healthTarget, sendHealth } from '../../../src/stages/health';
import { createHygieneStage } from '../../../src/stages/hygiene';
import { createRateLimitStage } from '../../../src/stages/rate-limit';
import { createUpstreamHeaders } from '../../../src/stages/upstream-headers';
import { isAuthgateError } from '../../../src/errors';
import { ManualClock } from '../../helpers/manual-clock';
import { LogCapture } from '../../helpers/servers';
import { fakeRequest, scopeOf, testConfig } from './fixtures';

const logger = createLogger({ level: 'info', stream: new LogCapture() });

describe('health stage', () => {
  const paths = { healthPath: '/healthz', readyPath: '/readyz', metricsPath: '/metrics' };
  it.each([
    ['/healthz', 'health'],
    ['/healthz?probe=1', 'health'],
    ['/readyz', 'ready'],
    ['/metrics', 'metrics'],
    ['/healthz/x', undefined],
    ['/healthzz', undefined],
    ['/api/healthz', undefined],
  ])('%s → %s', (url, expected) => {
    expect(healthTarget(url, paths)).toBe(expected);
  });
  it('no metrics path when metrics have their own port', () => {
    expect(healthTarget('/metrics', { ...paths, metricsPath: undefined })).toBeUndefined();
  });
});

describe('health answers', () => {
  it('sendHealth: status, JSON body, no caching, the request id', () => {
    const seen: { status?: number; headers?: Record<string, unknown>; body?: string } = {};
    const res = {
      writeHead(status: number, headers: Record<string, unknown>) {
        seen.status = status;
        seen.headers = headers;
        return this;
      },
      end(body: string) {
        seen.body = body;
      },
    } as unknown as ServerResponse;
    sendHealth(res, 503, 'draining', 'req-1');
    expect(seen).toEqual({
      status: 503,
      headers: {
        'Content-Type': 'application/json',
        'Content-Length': 21,
        'Cache-Control': 'no-store',
        'X-Request-ID': 'req-1',
      },
      body: '{"status":"draining"}',
    });
  });
});

describe('hygiene stage', () => {
  const trusted = new NetworkList(['10.0.0.0/8']);
  const hygiene = createHygieneStage(testConfig(), trusted, logger);
  const run = (url: string, raw: string[] = [], peer?: string) => {
    const req = fakeRequest(url, raw, { peer });
    const scope = scopeOf(req);
    hygiene(req, scope);
    return scope;
  };
  const refusal = (url: string, raw: string[] = []): string | undefined => {
    try {
      run(url, raw);
      return undefined;
    } catch (err) {
      return isAuthgateError(err) ? `${err.status} ${err.reason}` : String(err);
    }
  };

  it.each([
    ['/a/./b//c', '/a/b/c', ''],
    ['/a/%7Euser?x=1&y=2', '/a/~user', '?x=1&y=2'],
    ['/a/b/../c', '/a/c', ''],
  ])('normalises %s → %s', (url, path, search) => {
    expect(run(url)).toMatchObject({ path, search });
  });
  it.each([
    ['an encoded slash', '/a%2Fb', []],
    ['a token in the query', '/a?access_token=x', []],
    ['an underscore X-User-ID', '/a', ['X_User_ID', 'u']],
    ['two different X-User-ID', '/a', ['X-User-ID', 'a', 'X-User-ID', 'b']],
    [
      'a bearer token and an API key',
      '/a',
      ['Authorization', 'Bearer abc.def.ghi', 'X-API-Key', 'hok_x'],
    ],
  ])('refuses %s with 400', (_name, url, raw) => {
    expect(refusal(url, raw)).toMatch(/^400 /);
  });
  it('extracts credentials without logging them', () => {
    expect(run('/a', ['Authorization', 'Bearer abc.def.ghi']).credentials).toMatchObject({
      bearer: 'abc.def.ghi',
    });
    expect(run('/a', ['X-API-Key', 'hok_123']).credentials).toMatchObject({ apiKey: 'hok_123' });
  });
  it.each([
    [
      'a trusted proxy: the address it added',
      '10.1.2.3',
      ['X-Forwarded-For', '198.51.100.7'],
      '198.51.100.7',
    ],
    [
      'an untrusted peer: its own address',
      '203.0.113.9',
      ['X-Forwarded-For', '198.51.100.7'],
      '203.0.113.9',
    ],
  ])('client address through %s', (_name, peer, raw, expected) => {
    expect(run('/a', raw, peer).clientIp).toBe(expected);
  });
});

describe('hygiene stage: the facts it decides, exactly', () => {
  const trusted = new NetworkList(['10.0.0.0/8']);
  const config = testConfig({
    server: { internalNetworks: ['192.168.0.0/16'] },
  });
  const logs = new LogCapture();
  const hygiene = createHygieneStage(
    config,
    trusted,
    createLogger({ level: 'debug', stream: logs }),
  );
  const run = (url: string, raw: string[] = [], peer?: string) => {
    const req = fakeRequest(url, raw, { peer });
    const scope = scopeOf(req);
    hygiene(req, scope);
    return scope;
  };
  type Facts = {
    presented: boolean;
    peerTrusted: boolean;
    internal: boolean;
    clientIp: string;
    framing: string;
  };
  const facts = (url: string, raw: string[], peer?: string): Facts => {
    const s = run(url, raw, peer);
    return {
      presented: s.presented,
      peerTrusted: s.peerTrusted,
      internal: s.internal,
      clientIp: s.clientIp,
      framing: s.framing?.kind ?? 'unset',
    };
  };
  const base: Facts = {
    presented: false,
    peerTrusted: false,
    internal: false,
    clientIp: '203.0.113.9',
    framing: 'none',
  };
  it.each<[string, string[], string | undefined, Partial<Facts>]>([
    ['nothing presented', [], undefined, {}],
    ['a bearer token', ['Authorization', 'Bearer abc.def.ghi'], undefined, { presented: true }],
    ['an API key', ['X-API-Key', 'hok_1'], undefined, { presented: true }],
    [
      'a malformed Authorization still counts as presented',
      ['Authorization', 'Bearer'],
      undefined,
      { presented: true },
    ],
    ['a cookie is not a credential', ['Cookie', 'a=1'], undefined, {}],
    ['a chunked body', ['Transfer-Encoding', 'chunked'], undefined, { framing: 'chunked' }],
    ['a sized body', ['Content-Length', '3'], undefined, { framing: 'length' }],
    [
      'a trusted proxy peer',
      ['X-Forwarded-For', '192.168.1.5'],
      '10.0.0.1',
      { peerTrusted: true, clientIp: '192.168.1.5', internal: true },
    ],
    [
      'an internal peer, not a proxy',
      [],
      '192.168.3.3',
      { clientIp: '192.168.3.3', internal: true },
    ],
    [
      'an untrusted peer claiming to be internal',
      ['X-Forwarded-For', '192.168.1.5'],
      undefined,
      {},
    ],
    [
      'a trusted proxy forwarding an outside client',
      ['X-Forwarded-For', '198.51.100.1'],
      '10.2.2.2',
      { peerTrusted: true, clientIp: '198.51.100.1' },
    ],
  ])('%s', (_name, raw, peer, expected) => {
    expect(facts('/a', raw, peer)).toEqual({ ...base, ...expected });
  });

  it('the debug line says which credentials are present, never their values', () => {
    logs.lines.length = 0;
    const scope = run('/a', ['Authorization', 'Bearer abc.def.ghi', 'Cookie', 'sid=s3cr3t']);
    expect(logs.entries().filter((e) => e.message === 'credentials')).toEqual([
      expect.objectContaining({
        request_id: scope.requestId,
        bearer: true,
        api_key: false,
        scheme: 'bearer',
        malformed: false,
        cookie: true,
      }),
    ]);
    logs.lines.length = 0;
    run('/a', ['X-API-Key', 'hok_key1']);
    expect(logs.entries().find((e) => e.message === 'credentials')).toMatchObject({
      bearer: false,
      api_key: true,
      scheme: null,
      malformed: false,
      cookie: false,
    });
    logs.lines.length = 0;
    run('/a', ['Authorization', 'Bearer a b']);
    expect(logs.entries().find((e) => e.message === 'credentials')).toMatchObject({
      malformed: true,
    });
    expect(logs.lines.join('')).not.toMatch(/abc\.def|s3cr3t|hok_key1/);
  });

  it('at info, no credentials line', () => {
    const quiet = new LogCapture();
    const stage = createHygieneStage(
      config,
      trusted,
      createLogger({ level: 'info', stream: quiet }),
    );
    const req = fakeRequest('/a', ['Authorization', 'Bearer abc.def.ghi']);
    stage(req, scopeOf(req));
    expect(quiet.lines).toEqual([]);
  });
});

describe('hygiene stage: what counts as a credential follows the configured authenticators', () => {
  const trusted = new NetworkList(['10.0.0.0/8']);
  const presented = (config: ReturnType<typeof testConfig>, raw: string[], peer = '10.0.0.1') => {
    const stage = createHygieneStage(config, trusted, logger);
    const req = fakeRequest('/a', raw, { peer });
    const scope = scopeOf(req);
    stage(req, scope);
    return scope.presented;
  };
  const noKeys = parseConfig(
    {
      auth: { jwt: { issuers: [{ issuer: 'u', algorithms: ['HS256'], secret: 's'.repeat(32) }] } },
      routes: [{ name: 'api', prefix: '/', upstream: 'http://u' }],
    },
    {},
  );
  const withAlb = testConfig({
    auth: {
      albOidc: { keysUrl: 'http://127.0.0.1:9', signers: ['arn:aws:elasticloadbalancing:x'] },
    },
  });
  it.each<[string, ReturnType<typeof testConfig>, string[], boolean]>([
    ['an API key when API keys are on', testConfig(), ['X-API-Key', 'hok_1'], true],
    ['an X-API-Key when API keys are off', noKeys, ['X-API-Key', 'hok_1'], false],
    ['a bearer token when API keys are off', noKeys, ['Authorization', 'Bearer a.b.c'], true],
    ['the ALB’s identity when ALB sign-in is on', withAlb, ['X-Amzn-Oidc-Data', 'h.p.s'], true],
    [
      'the ALB’s identity when ALB sign-in is off',
      testConfig(),
      ['X-Amzn-Oidc-Data', 'h.p.s'],
      false,
    ],
  ])('%s', (_name, config, raw, expected) => {
    expect(presented(config, raw)).toBe(expected);
  });
});

describe('upstream headers stage', () => {
  const config = testConfig();
  const route = new RouteTable(config.routes).match('/');
  const hygiene = createHygieneStage(config, new NetworkList([]), logger);
  const build = (raw: string[]) => {
    const req = fakeRequest('/x', raw);
    const scope = scopeOf(req);
    hygiene(req, scope);
    return {
      scope,
      headers: createUpstreamHeaders(hygiene.guard, {
        assertionHeader: 'X-Authgate-Assertion',
        credentialHeaders: ['authorization'],
      })(req, scope, route, false),
    };
  };
  const names = (h: string[]) => h.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());

  it('keeps a sane X-Request-ID as sent, case and order of the others too', () => {
    const { headers } = build([
      'x-request-id',
      'keep-me',
      'X-Custom',
      'a',
      'x-custom',
      'b',
      'Host',
      'public',
    ]);
    expect(headers.slice(0, 6)).toEqual([
      'x-request-id',
      'keep-me',
      'X-Custom',
      'a',
      'x-custom',
      'b',
    ]);
  });
  it('adds a new X-Request-ID when the client sent none; Host as sent (preserveHost, the default)', () => {
    const { headers, scope } = build(['Host', 'public']);
    expect(headers).toEqual(expect.arrayContaining(['X-Request-ID', scope.requestId]));
    expect(headers[headers.indexOf('Host') + 1]).toBe('public');
  });
  it('preserveHost: false sends the upstream host; no Host at all gets the upstream host', () => {
    const cfg = testConfig({
      routes: [
        { name: 'api', prefix: '/', upstream: 'http://up.internal:5000', preserveHost: false },
      ],
    });
    const r = new RouteTable(cfg.routes).match('/');
    const stage = createUpstreamHeaders(hygiene.guard, {
      assertionHeader: 'X-Authgate-Assertion',
      credentialHeaders: ['authorization'],
    });
    for (const raw of [['Host', 'public'], []]) {
      const req = fakeRequest('/x', raw);
      const scope = scopeOf(req);
      hygiene(req, scope);
      const headers = stage(req, scope, r, false);
      expect(headers[headers.indexOf('Host') + 1]).toBe('up.internal:5000');
    }
  });
  it('strips hop-by-hop and Connection-listed names, but never a protected one', () => {
    const { headers } = build([
      'Connection',
      'X-Drop, Authorization',
      'X-Drop',
      '1',
      'Authorization',
      'Bearer t',
      'Keep-Alive',
      '5',
    ]);
    expect(names(headers)).not.toContain('x-drop');
    expect(names(headers)).not.toContain('keep-alive');
    expect(names(headers)).not.toContain('connection');
    expect(names(headers)).toContain('authorization');
  });
  it('re-frames a chunked body itself', () => {
    const { headers } = build(['Transfer-Encoding', 'chunked']);
    expect(headers.filter((h) => h.toLowerCase() === 'transfer-encoding')).toHaveLength(1);
    expect(headers[headers.indexOf('Transfer-Encoding') + 1]).toBe('chunked');
  });
  it('appends what the authorise stage added, after the client headers', () => {
    const req = fakeRequest('/x', ['A', '1']);
    const scope = scopeOf(req);
    hygiene(req, scope);
    scope.addHeaders = ['X-User-ID', 'alice'];
    const headers = createUpstreamHeaders(hygiene.guard, {
      assertionHeader: 'X-Authgate-Assertion',
      credentialHeaders: ['authorization'],
    })(req, scope, route, false);
    expect(headers.slice(-2)).toEqual(['X-User-ID', 'alice']);
  });
});

describe('upstream headers stage: the whole list, exactly', () => {
  const config = testConfig({
    routes: [
      { name: 'api', prefix: '/', upstream: 'http://up.internal:5000/base', preserveHost: false },
    ],
  });
  const route = new RouteTable(config.routes).match('/');
  const hygiene = createHygieneStage(config, new NetworkList([]), logger);
  const build = (
    raw: string[],
    options: { tls?: boolean; localPort?: number; upgrade?: boolean } = {},
  ) => {
    const req = fakeRequest('/x', raw, { peer: '198.51.100.4' });
    const socket = req.socket as unknown as Record<string, unknown>;
    if (options.tls) socket.encrypted = true;
    if ('localPort' in options) socket.localPort = options.localPort;
    const scope = scopeOf(req);
    hygiene(req, scope);
    return {
      scope,
      headers: createUpstreamHeaders(hygiene.guard, {
        assertionHeader: 'X-Authgate-Assertion',
        credentialHeaders: ['authorization'],
      })(req, scope, route, options.upgrade ?? false),
    };
  };
  const fwd = (proto: string, port: string, host = 'public') => [
    'X-Forwarded-For',
    '198.51.100.4',
    'X-Forwarded-Proto',
    proto,
    'X-Forwarded-Host',
    host,
    'X-Forwarded-Port',
    port,
  ];

  it('a kept request id: the client’s X-Forwarded-* replaced, Host the upstream’s', () => {
    const { headers } = build([
      'Host',
      'public',
      'X-Request-ID',
      'rid-1',
      'X-Forwarded-For',
      '6.6.6.6',
      'X-Forwarded-Proto',
      'https',
      'Accept',
      '*/*',
    ]);
    expect(headers).toEqual([
      'Host',
      'up.internal:5000',
      'X-Request-ID',
      'rid-1',
      'Accept',
      '*/*',
      ...fwd('http', '8080'),
    ]);
  });

  it('a new request id: the client’s dropped, authgate’s added first; TLS is https', () => {
    const { headers, scope } = build(
      ['Host', 'public', 'X-Request-ID', 'bad id', 'Accept', '*/*'],
      {
        tls: true,
        localPort: 8443,
      },
    );
    expect(headers).toEqual([
      'Host',
      'up.internal:5000',
      'Accept',
      '*/*',
      'X-Request-ID',
      scope.requestId,
      ...fwd('https', '8443'),
    ]);
  });

  it('no Host: the upstream’s is added; no local port: 0; a chunked body re-framed', () => {
    const { headers } = build(['Transfer-Encoding', 'chunked', 'X-Request-ID', 'r2'], {
      localPort: undefined,
    });
    expect(headers).toEqual([
      'X-Request-ID',
      'r2',
      'X-Forwarded-For',
      '198.51.100.4',
      'X-Forwarded-Proto',
      'http',
      'X-Forwarded-Port',
      '0',
      'Host',
      'up.internal:5000',
      'Transfer-Encoding',
      'chunked',
    ]);
  });

  it('a sized body keeps its Content-Length and gets no Transfer-Encoding', () => {
    const { headers } = build(['Host', 'h', 'Content-Length', '3', 'X-Request-ID', 'r3']);
    expect(headers).toEqual([
      'Host',
      'up.internal:5000',
      'Content-Length',
      '3',
      'X-Request-ID',
      'r3',
      ...fwd('http', '8080', 'h'),
    ]);
  });

  it('an authorised upgrade keeps Upgrade and Connection: upgrade', () => {
    const { headers } = build(
      ['Host', 'h', 'Connection', 'Upgrade', 'Upgrade', 'websocket', 'X-Request-ID', 'r4'],
      { upgrade: true },
    );
    expect(headers).toEqual([
      'Host',
      'up.internal:5000',
      'Connection',
      'upgrade',
      'Upgrade',
      'websocket',
      'X-Request-ID',
      'r4',
      ...fwd('http', '8080', 'h'),
    ]);
  });
});

describe('rate limit stage', () => {
  const config = testConfig({
    routes: [
      {
        name: 'p',
        prefix: '/p',
        upstream: 'http://u',
        auth: 'none',
        rateLimit: { requestsPerMinute: 60, burst: 2, by: 'principal' },
      },
      {
        name: 't',
        prefix: '/t',
        upstream: 'http://u',
        auth: 'none',
        rateLimit: { requestsPerMinute: 60, burst: 1, by: 'tenant' },
      },
      { name: 'free', prefix: '/free', upstream: 'http://u', auth: 'none' },
      {
        name: 'i',
        prefix: '/i',
        upstream: 'http://u',
        auth: 'none',
        rateLimit: { requestsPerMinute: 60, burst: 1, by: 'ip' },
      },
    ],
  });
  const table = new RouteTable(config.routes);
  const scopeFor = (raw: string[] = [], userId?: string, peer?: string, tenant?: string) => {
    const scope = scopeOf(fakeRequest('/x', raw, { peer }));
    if (userId) scope.principal = { userId, tenantIds: ['t1'], scopes: [], authMethod: 'jwt' };
    // What the authorise stage decided (verified); the rate limit reads nothing else.
    scope.tenantId = tenant;
    return scope;
  };
  const outcome = async (
    stage: ReturnType<typeof createRateLimitStage>,
    path: string,
    scope: ReturnType<typeof scopeFor>,
  ) => {
    try {
      await stage(scope, table.match(path));
      return 200;
    } catch (err) {
      return isAuthgateError(err) ? err.status : 500;
    }
  };

  it('per principal: the burst, then 429; another principal is not affected; time refills', async () => {
    const clock = new ManualClock();
    const stage = createRateLimitStage(new RateLimiter({ clock }));
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await outcome(stage, '/p', scopeFor([], 'alice')));
    expect(statuses).toEqual([200, 200, 429]);
    expect(await outcome(stage, '/p', scopeFor([], 'bob'))).toBe(200);
    await clock.advance(1000);
    expect(await outcome(stage, '/p', scopeFor([], 'alice'))).toBe(200);
  });
  it('per tenant: the verified tenant names the budget', async () => {
    const stage = createRateLimitStage(new RateLimiter({ clock: new ManualClock() }));
    expect(await outcome(stage, '/t', scopeFor([], 'u1', undefined, 'a'))).toBe(200);
    expect(await outcome(stage, '/t', scopeFor([], 'u2', undefined, 'a'))).toBe(429);
    expect(await outcome(stage, '/t', scopeFor([], 'u1', undefined, 'b'))).toBe(200);
  });
  it('an unverified tenant header never names a budget: anonymous callers count by address', async () => {
    const stage = createRateLimitStage(new RateLimiter({ clock: new ManualClock() }));
    const anon = (peer: string) => scopeFor(['X-Tenant-ID', 'victim'], undefined, peer);
    expect(await outcome(stage, '/t', anon('198.51.100.7'))).toBe(200);
    expect(await outcome(stage, '/t', anon('198.51.100.7'))).toBe(429);
    // Another address is not charged to "victim"'s budget, and neither is victim.
    expect(await outcome(stage, '/t', anon('198.51.100.8'))).toBe(200);
    expect(await outcome(stage, '/t', scopeFor([], 'v', undefined, 'victim'))).toBe(200);
  });
  it('anonymous callers are counted by address; unlimited routes add nothing', async () => {
    const stage = createRateLimitStage(new RateLimiter({ clock: new ManualClock() }));
    expect(await outcome(stage, '/p', scopeFor([], undefined, '198.51.100.1'))).toBe(200);
    expect(await outcome(stage, '/p', scopeFor([], undefined, '198.51.100.1'))).toBe(200);
    expect(await outcome(stage, '/p', scopeFor([], undefined, '198.51.100.1'))).toBe(429);
    expect(await outcome(stage, '/p', scopeFor([], undefined, '198.51.100.2'))).toBe(200);
    const free = scopeFor([], 'alice');
    expect(await outcome(stage, '/free', free)).toBe(200);
    expect(free.responseHeaders).toEqual([]);
  });
  it('a refusal: 429 with Retry-After and the RateLimit fields, counted by route and key', async () => {
    const metrics = new Metrics('test');
    const stage = createRateLimitStage(new RateLimiter({ clock: new ManualClock() }), metrics);
    await stage(scopeFor([], 'dave'), table.match('/p'));
    await stage(scopeFor([], 'dave'), table.match('/p'));
    const refused = await stage(scopeFor([], 'dave'), table.match('/p')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({
      status: 429,
      code: 'RATE_LIMITED',
      reason: 'rate_limited',
      headers: { 'Retry-After': '1', 'RateLimit-Policy': '"p";q=2;w=2', RateLimit: '"p";r=0;t=2' },
    });
    const counted = (await metrics.rateLimited.get()).values.map((v) => [v.labels, v.value]);
    expect(counted).toEqual([[{ route: 'p', by: 'principal' }, 1]]);
  });
  it('per address: callers with their own principal and tenant share their address’s budget', async () => {
    const stage = createRateLimitStage(new RateLimiter({ clock: new ManualClock() }));
    expect(await outcome(stage, '/i', scopeFor([], 'u1', '198.51.100.9', 'a'))).toBe(200);
    expect(await outcome(stage, '/i', scopeFor([], 'u2', '198.51.100.9', 'b'))).toBe(429);
    expect(await outcome(stage, '/i', scopeFor([], 'u1', '198.51.100.10', 'a'))).toBe(200);
  });
  it('an allowed request carries the RateLimit fields for the response', async () => {
    const stage = createRateLimitStage(new RateLimiter({ clock: new ManualClock() }));
    const scope = scopeFor([], 'carol');
    await stage(scope, table.match('/p'));
    expect(scope.responseHeaders).toEqual([
      'RateLimit-Policy',
      '"p";q=2;w=2',
      'RateLimit',
      '"p";r=1;t=1',
    ]);
  });
});

describe('Lifecycle', () => {
  it('phases only move forward, each implying the ones before', () => {
    const l = new Lifecycle();
    expect([l.past('serving'), l.past('draining')]).toEqual([true, false]);
    l.enter('closing');
    expect([l.past('draining'), l.past('closing'), l.past('stopped')]).toEqual([true, true, false]);
    l.enter('draining');
    expect(l.past('closing')).toBe(true);
  });
  it('idle() resolves when the last request in flight is done', async () => {
    const l = new Lifecycle();
    await l.idle(); // nothing in flight
    l.requestStarted();
    l.requestStarted();
    let idle = false;
    const waiting = l.idle().then(() => (idle = true));
    l.requestDone();
    await Promise.resolve();
    expect(idle).toBe(false);
    l.requestDone();
    await waiting;
    expect([idle, l.inFlight]).toEqual([true, 0]);
  });
});
