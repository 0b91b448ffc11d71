/**
 * OpenTelemetry tracing, checked by what a real OTLP receiver decodes with the official
 * protobuf definitions (opentelemetry-proto): a SERVER span per recorded request with children
 * for authentication, the JWKS fetch, the auth-service call, the Redis lookup and the upstream
 * request; W3C traceparent and the ALB's X-Amzn-Trace-Id continued; parent-based sampling;
 * passthrough vs participate; log lines with trace and span ids; no credential anywhere in what
 * is exported. authgate runs as `authgate serve` (the OTLP exporter loads Node's http client
 * with a dynamic import, which jest's module VM does not run).
 */
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { rsaKey, sign, startJwksServer, type JwksServer } from '../../helpers/jwks';
import {
  renderTrace,
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from '../../helpers/otlp';
import { REDIS_URL, uniquePrefix } from '../../helpers/redis';
import { spawnProxy, type ProxyProcess } from '../../helpers/process';
import {
  freePort,
  pairs,
  rawRequest,
  startUpstream,
  type RawResponse,
  type TestUpstream,
} from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';

const API_KEY = 'hok_live_tracing-key-0123456789abcdef';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

describe('tracing with OpenTelemetry', () => {
  const key = rsaKey();
  let receiver: OtlpReceiver;
  let jwks: JwksServer;
  let service: AuthService;
  let upstream: TestUpstream;
  let passthrough: ProxyProcess;
  let participate: ProxyProcess;
  let unsampled: ProxyProcess;

  function config(propagate: string, sampleRatio: number): Record<string, unknown> {
    return {
      server: { port: 0, host: '127.0.0.1' },
      redis: { url: REDIS_URL, keyPrefix: uniquePrefix() },
      tracing: {
        otlpEndpoint: receiver.url,
        serviceName: 'authgate-test',
        sampleRatio,
        propagate,
        exportDelayMs: 20,
      },
      auth: {
        failedAuthGuard: { maxFailures: 0 },
        jwt: {
          jwksMinRefetchIntervalSec: 0,
          issuers: [
            {
              issuer: 'https://idp.test',
              algorithms: ['RS256'],
              jwksUri: jwks.url,
              audience: 'api',
            },
          ],
        },
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl: service.url,
          hashSecret: 'tracing-hash-secret-0123456789abcdefghij',
        },
      },
      routes: [
        { name: 'api', prefix: '/', upstream: upstream.url, auth: 'required', scopes: ['read'] },
        { name: 'down', prefix: '/down', upstream: `http://127.0.0.1:${downPort}`, auth: 'none' },
        { name: 'slow', prefix: '/slow', upstream: slow.url, auth: 'required', scopes: ['read'] },
      ],
    };
  }
  let downPort: number;
  let slow: TestUpstream;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    jwks = await startJwksServer([key]);
    service = await startAuthService();
    service.keys.set(API_KEY, { user_id: 'ci-bot', scopes: ['read'] });
    upstream = await startUpstream();
    downPort = await freePort();
    // An upstream that takes 300 ms: where a slow request spent its time.
    slow = await startUpstream((_req, res) => {
      setTimeout(() => res.writeHead(200, { 'Content-Length': '2' }).end('ok'), 300);
    });
    [passthrough, participate, unsampled] = await Promise.all([
      spawnProxy(config('passthrough', 1)),
      spawnProxy(config('participate', 1)),
      spawnProxy(config('passthrough', 0)),
    ]);
  });

  afterAll(async () => {
    for (const p of [passthrough, participate, unsampled]) {
      p?.child.kill('SIGTERM');
      await p?.exited;
    }
    await upstream?.close();
    await slow?.close();
    await service?.close();
    await jwks?.close();
    await receiver?.stop();
  });

  function token(signer = key): string {
    return sign(signer, { iss: 'https://idp.test', sub: 'alice', claims: { scope: 'read' } });
  }

  function logLines(proxy: ProxyProcess): Array<Record<string, unknown>> {
    return proxy.stdout
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  async function get(proxy: ProxyProcess, path: string, headers: string[]): Promise<RawResponse> {
    return rawRequest(proxy.url, { path, headers: ['Host', 'authgate.test', ...headers] });
  }

  /** The spans of one trace, once its SERVER span arrived. */
  async function traceOf(requestId: string): Promise<ReceivedSpan[]> {
    let server: ReceivedSpan | undefined;
    await waitFor(`the SERVER span of ${requestId}`, async () => {
      server = (await receiver.spans()).find(
        (s) => s.attributes['authgate.request_id'] === requestId,
      );
      return server !== undefined;
    });
    // Children end before their parent: they are exported in the same batch or before.
    return (await receiver.spans()).filter((s) => s.traceId === server!.traceId);
  }

  const byName = (spans: ReceivedSpan[], name: string): ReceivedSpan => {
    const found = spans.find((s) => s.name === name);
    if (!found) throw new Error(`no span "${name}" in ${spans.map((s) => s.name).join(', ')}`);
    return found;
  };

  test('an incoming traceparent is continued; children for authentication, the JWKS fetch and the upstream; passthrough leaves traceparent untouched', async () => {
    const traceparent = `00-${TRACE_ID}-${PARENT_ID}-01`;
    const before = upstream.seen.length;
    // A key the JWKS did not have at startup: authgate fetches it while authenticating.
    const rotated = rsaKey();
    jwks.keys.push(rotated);
    const res = await get(passthrough, '/items?x=1', [
      'Authorization',
      `Bearer ${token(rotated)}`,
      'traceparent',
      traceparent,
      'tracestate',
      'vendor=abc',
    ]);
    expect(res.status).toBe(200);
    // passthrough: the upstream gets the caller's traceparent and tracestate untouched
    const seen = pairs(upstream.seen[before]!.rawHeaders);
    expect(seen).toContainEqual(['traceparent', traceparent]);
    expect(seen).toContainEqual(['tracestate', 'vendor=abc']);

    const spans = await traceOf(res.headers['x-request-id'] as string);
    const server = byName(spans, 'GET api');
    expect(server).toMatchObject({
      traceId: TRACE_ID,
      parentSpanId: PARENT_ID,
      kind: 'SPAN_KIND_SERVER',
      status: 'STATUS_CODE_UNSET',
      scope: 'authgate',
      contentType: 'application/x-protobuf',
    });
    expect(server.resource).toMatchObject({ 'service.name': 'authgate-test' });
    expect(server.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.response.status_code': '200',
      'url.path': '/items',
      'authgate.route': 'api',
      'authgate.auth_method': 'jwt',
      'authgate.decision': 'allow',
    });
    const auth = byName(spans, 'authenticate');
    expect(auth).toMatchObject({ parentSpanId: server.spanId, kind: 'SPAN_KIND_INTERNAL' });
    expect(auth.attributes).toMatchObject({
      'authgate.decision': 'allow',
      'authgate.auth_method': 'jwt',
    });
    // The first token of this issuer made authgate fetch its keys: a child of authentication.
    const fetch = byName(spans, 'jwks fetch');
    expect(fetch).toMatchObject({ parentSpanId: auth.spanId, kind: 'SPAN_KIND_CLIENT' });
    expect(fetch.attributes).toMatchObject({
      'url.full': jwks.url,
      'http.response.status_code': '200',
    });
    const up = byName(spans, 'upstream');
    expect(up).toMatchObject({ parentSpanId: server.spanId, kind: 'SPAN_KIND_CLIENT' });
    expect(up.attributes).toMatchObject({
      'http.response.status_code': '200',
      'server.address': '127.0.0.1',
    });
  });

  test("participate: the upstream's parent is authgate's upstream span", async () => {
    const before = upstream.seen.length;
    const traceId = 'c'.repeat(32);
    const res = await get(participate, '/p', [
      'Authorization',
      `Bearer ${token()}`,
      'traceparent',
      `00-${traceId}-${PARENT_ID}-01`,
    ]);
    expect(res.status).toBe(200);
    const sent = pairs(upstream.seen[before]!.rawHeaders).filter(
      ([n]) => n.toLowerCase() === 'traceparent',
    );
    const spans = await traceOf(res.headers['x-request-id'] as string);
    const up = byName(spans, 'upstream');
    expect(sent).toEqual([['traceparent', `00-${traceId}-${up.spanId}-01`]]);
  });

  test("the ALB's X-Amzn-Trace-Id is continued when there is no traceparent", async () => {
    const res = await get(passthrough, '/alb', [
      'Authorization',
      `Bearer ${token()}`,
      'X-Amzn-Trace-Id',
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    ]);
    const spans = await traceOf(res.headers['x-request-id'] as string);
    expect(byName(spans, 'GET api')).toMatchObject({
      traceId: '5759e988bd862e3fe1be46a994272793',
      parentSpanId: '53995c3f42cd8ad8',
    });
  });

  test('an API key: the auth-service call and the Redis lookup are children of authentication', async () => {
    const res = await get(passthrough, '/k', ['Authorization', `Bearer ${API_KEY}`]);
    expect(res.status).toBe(200);
    const spans = await traceOf(res.headers['x-request-id'] as string);
    const auth = byName(spans, 'authenticate');
    expect(byName(spans, 'redis api-key lookup')).toMatchObject({ parentSpanId: auth.spanId });
    expect(byName(spans, 'auth-service validate')).toMatchObject({
      parentSpanId: auth.spanId,
      kind: 'SPAN_KIND_CLIENT',
    });
    expect(byName(spans, 'GET api').attributes).toMatchObject({
      'authgate.auth_method': 'api_key',
    });
  });

  test('a refusal (4xx) is no error on the SERVER span; an upstream that is down (5xx) is', async () => {
    const refused = await get(passthrough, '/r', ['Authorization', 'Bearer not.a.jwt']);
    expect(refused.status).toBe(401);
    const denied = byName(await traceOf(refused.headers['x-request-id'] as string), 'GET api');
    expect(denied.status).toBe('STATUS_CODE_UNSET');
    expect(denied.attributes).toMatchObject({
      'http.response.status_code': '401',
      'authgate.decision': 'deny',
      'authgate.error_code': 'TOKEN_INVALID',
    });

    const down = await get(passthrough, '/down/x', []);
    expect(down.status).toBe(502);
    const spans = await traceOf(down.headers['x-request-id'] as string);
    expect(byName(spans, 'GET down')).toMatchObject({
      status: 'STATUS_CODE_ERROR',
      statusMessage: 'UPSTREAM_UNAVAILABLE',
    });
    expect(byName(spans, 'upstream').status).toBe('STATUS_CODE_ERROR');
  });

  test('parent-based sampling: an unsampled traceparent is never recorded, a sampled one always', async () => {
    const before = (await receiver.spans()).length;
    // All on the instance with sampleRatio 0, whose exports arrive in order.
    const notSampled = await get(unsampled, '/n', [
      'Authorization',
      `Bearer ${token()}`,
      'traceparent',
      `00-${'a'.repeat(32)}-${PARENT_ID}-00`,
    ]);
    expect(notSampled.status).toBe(200);
    // sampleRatio 0: new traces are not recorded, but a sampled caller's trace is
    const root = await get(unsampled, '/n', ['Authorization', `Bearer ${token()}`]);
    const followed = await get(unsampled, '/f', [
      'Authorization',
      `Bearer ${token()}`,
      'traceparent',
      `00-${'b'.repeat(32)}-${PARENT_ID}-01`,
    ]);
    await traceOf(followed.headers['x-request-id'] as string);
    const ids = (await receiver.spans())
      .slice(before)
      .map((s) => s.attributes['authgate.request_id']);
    expect(ids).not.toContain(notSampled.headers['x-request-id']);
    expect(ids).not.toContain(root.headers['x-request-id']);
  });

  test('log lines of a traced request carry trace_id and span_id', async () => {
    const res = await get(passthrough, '/logged', ['Authorization', `Bearer ${token()}`]);
    const requestId = res.headers['x-request-id'] as string;
    const spans = await traceOf(requestId);
    const server = byName(spans, 'GET api');
    let lines: Array<Record<string, unknown>> = [];
    await waitFor('the access line', () => {
      lines = logLines(passthrough).filter((e) => e.request_id === requestId);
      return lines.some((l) => l.type === 'access');
    });
    expect(lines.map((l) => l.type)).toEqual(expect.arrayContaining(['audit', 'access']));
    for (const line of lines) expect(line.trace_id).toBe(server.traceId);
    expect(lines.find((l) => l.type === 'access')!.span_id).toBe(server.spanId);
    expect(lines.find((l) => l.type === 'audit')!.span_id).toBe(
      byName(spans, 'authenticate').spanId,
    );
  });

  test('no credential in any exported attribute, event or resource', async () => {
    const jwt = token();
    const cookie = 'session=very-secret-cookie-value';
    await get(passthrough, '/s?access_key=query-secret', [
      'Authorization',
      `Bearer ${jwt}`,
      'Cookie',
      cookie,
    ]);
    await get(passthrough, '/s', ['Authorization', `Bearer ${API_KEY}`]);
    await get(passthrough, '/s', ['Authorization', 'Bearer wrong.token.value']);
    const last = await get(passthrough, '/s', ['Authorization', `Bearer ${jwt}`]);
    await traceOf(last.headers['x-request-id'] as string);
    const dump = JSON.stringify(await receiver.spans());
    for (const secret of [
      jwt,
      jwt.split('.')[2]!,
      API_KEY,
      'very-secret-cookie-value',
      'query-secret',
      'wrong.token.value',
    ])
      expect(dump).not.toContain(secret);
  });

  test('renderings of a refused and of a slow request (docs/tracing.md)', async () => {
    const refused = await get(passthrough, '/items', ['Authorization', `Bearer ${API_KEY}x`]);
    expect(refused.status).toBe(401);
    const slowRes = await get(passthrough, '/slow/report', ['Authorization', `Bearer ${token()}`]);
    expect(slowRes.status).toBe(200);
    const refusedTrace = await traceOf(refused.headers['x-request-id'] as string);
    const slowTrace = await traceOf(slowRes.headers['x-request-id'] as string);
    const up = byName(slowTrace, 'upstream');
    expect(Number(BigInt(up.endNs) - BigInt(up.startNs)) / 1e6).toBeGreaterThanOrEqual(290);
    console.log(`refused:\n${renderTrace(refusedTrace)}\n\nslow:\n${renderTrace(slowTrace)}`);
  });

  test('a collector that is down slows no request and stops nothing', async () => {
    const dead = await spawnProxy({
      ...config('passthrough', 1),
      tracing: {
        otlpEndpoint: `http://127.0.0.1:${await freePort()}/v1/traces`,
        sampleRatio: 1,
        exportDelayMs: 20,
      },
    });
    try {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          get(dead, `/d${i}`, ['Authorization', `Bearer ${token()}`]),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
      expect((await get(dead, '/after', ['Authorization', `Bearer ${token()}`])).status).toBe(200);
      // One line says so, however many batches fail.
      await waitFor('the export failure line', () =>
        logLines(dead).some(
          (l) => l.message === 'tracing export failed; spans are dropped until it works',
        ),
      );
      await get(dead, '/later', ['Authorization', `Bearer ${token()}`]);
      expect(
        logLines(dead).filter((l) => String(l.message).startsWith('tracing export failed')),
      ).toHaveLength(1);
    } finally {
      dead.child.kill('SIGTERM');
      expect(await dead.exited).toBe(0);
    }
  });
});
