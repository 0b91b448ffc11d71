/**
 * The upstream-credential stage alone: which requests go upstream in authgate's name (mode ×
 * caller), what headers they carry (authgate's credential in place of every caller credential,
 * the upstream's Host), and that without a token exchange a 401 is answered, never retried.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { AuthgateError } from '../../../src/errors';
import { createLogger } from '../../../src/logging/logger';
import type { UpstreamReply } from '../../../src/proxy/forward';
import { ForwardRetry, RETRY } from '../../../src/proxy/forward';
import { requestFraming } from '../../../src/headers/framing';
import type { RouteUpstreamAuth } from '../../../src/upstream-credentials/route-upstream-auth';
import { RouteTable } from '../../../src/routes/route-table';
import {
  createUpstreamCredentialStage,
  type SendOptions,
} from '../../../src/stages/upstream-credential';
import { ManualClock } from '../../helpers/manual-clock';
import { LogCapture } from '../../helpers/servers';
import { fakeRequest, scopeOf, testConfig } from './fixtures';

const config = testConfig({
  routes: [
    { name: 'plain', prefix: '/plain', upstream: 'http://plain.internal:5000' },
    {
      name: 'svc',
      prefix: '/svc',
      upstream: 'http://svc.internal:5001',
      upstreamAuth: { mode: 'service', providers: [{ type: 'env' }] },
    },
    {
      name: 'absent',
      prefix: '/absent',
      upstream: 'http://absent.internal:5002',
      upstreamAuth: { mode: 'when-absent', providers: [{ type: 'env' }] },
    },
  ],
});
const routes = new RouteTable(config.routes).routes;
const route = (name: string) => routes.find((r) => r.name === name)!;
const logs = new LogCapture();
const replaced = new AuthgateError('UPSTREAM_UNAUTHENTICATED');
const stage = createUpstreamCredentialStage(config, routes, {
  clock: new ManualClock(),
  logger: createLogger({ level: 'info', stream: logs }),
  env: { SERVICE_AUTH_TOKEN: 'svc-token-1' },
  replaceUpstreamAuth: () => Promise.resolve(replaced),
});

function scope(over: {
  presented?: boolean;
  principal?: boolean;
  internal?: boolean;
  preflight?: boolean;
}) {
  const s = scopeOf(fakeRequest('/svc/x'));
  s.presented = over.presented ?? false;
  s.internal = over.internal ?? false;
  s.preflight = over.preflight ?? false;
  if (over.principal) s.principal = { userId: 'u', tenantIds: [], scopes: [], authMethod: 'jwt' };
  return s;
}

describe('which requests go in authgate’s name', () => {
  it.each<[string, string, Parameters<typeof scope>[0], boolean]>([
    ['no upstreamAuth: never', 'plain', { presented: true, principal: true }, false],
    ['service: a caller with a credential', 'svc', { presented: true, principal: true }, true],
    ['service: an anonymous caller', 'svc', {}, true],
    ['service: not a CORS preflight', 'svc', { preflight: true }, false],
    ['when-absent: an internal caller without a credential', 'absent', { internal: true }, true],
    [
      'when-absent: an internal caller with a credential',
      'absent',
      { internal: true, presented: true },
      false,
    ],
    [
      'when-absent: an internal caller already authenticated',
      'absent',
      { internal: true, principal: true },
      false,
    ],
    ['when-absent: an outside caller without a credential', 'absent', {}, false],
    ['when-absent: not a CORS preflight', 'absent', { internal: true, preflight: true }, false],
  ])('%s', (_name, routeName, over, expected) => {
    expect(stage.for(route(routeName), scope(over)) !== undefined).toBe(expected);
  });
});

describe('what goes upstream', () => {
  const ua = stage.for(route('svc'), scope({}))!;
  const callerHeaders = [
    'Host',
    'proxy.example',
    'Authorization',
    'Bearer caller-token',
    'X-API-Key',
    'hok_caller',
    'x-amzn-oidc-data',
    'alb.jwt',
    'X-Amzn-Oidc-Accesstoken',
    'alb-access',
    'Accept',
    'application/json',
  ];
  const expected = [
    'Accept',
    'application/json',
    'Host',
    'svc.internal:5001',
    'Authorization',
    'Bearer svc-token-1',
  ];
  const sorted = (h: string[]) => {
    const pairs: string[] = [];
    for (let i = 0; i < h.length; i += 2) pairs.push(`${h[i]!.toLowerCase()}: ${h[i + 1]}`);
    return pairs.sort();
  };

  it('a forwarded request: authgate’s credential in place of every caller credential, the upstream’s Host', async () => {
    const sent: Array<[string[], SendOptions]> = [];
    const s = scope({});
    const req = fakeRequest('/svc/x') as IncomingMessage;
    await stage.forward(ua, req, s, route('svc'), callerHeaders, false, (headers, options) => {
      sent.push([headers, options]);
      return Promise.resolve();
    });
    expect(sent).toHaveLength(1);
    expect(sorted(sent[0]![0])).toEqual(sorted(expected));
    expect(sent[0]![1].body).toBeUndefined();
    expect(sent[0]![1].rewriteLocation!('http://svc.internal:5001/svc/next')).toBe('/svc/next');
  });

  it('an upgrade: the same headers', async () => {
    const headers = await stage.upgradeHeaders(
      ua,
      scope({}),
      route('svc'),
      '/svc/ws',
      callerHeaders,
    );
    expect(sorted(headers)).toEqual(sorted(expected));
  });

  it('without a token exchange a 401 from the upstream is answered as such, never retried', async () => {
    let attempts = 0;
    let answer: AuthgateError | typeof RETRY | undefined;
    const reply: UpstreamReply = {
      statusCode: 401,
      header: (n) =>
        n === 'www-authenticate' ? 'Bearer realm="http://127.0.0.1:9/token"' : undefined,
      body: () => Promise.resolve(undefined),
      discard: () => undefined,
    };
    await stage.forward(
      ua,
      fakeRequest('/svc/x'),
      scope({}),
      route('svc'),
      callerHeaders,
      false,
      async (_h, options) => {
        attempts++;
        answer = await options.replaceResponse!(reply);
      },
    );
    expect(attempts).toBe(1);
    expect(answer).toBe(replaced);
  });

  it('no provider yields: 502 no_upstream_credential, logged with each provider’s reason', async () => {
    const dry = createUpstreamCredentialStage(config, routes, {
      clock: new ManualClock(),
      logger: createLogger({ level: 'info', stream: logs }),
      env: {},
      replaceUpstreamAuth: () => Promise.resolve(replaced),
    });
    const dryUa = dry.for(route('svc'), scope({}))!;
    await expect(
      dry.forward(dryUa, fakeRequest('/svc/x'), scope({}), route('svc'), callerHeaders, false, () =>
        Promise.resolve(),
      ),
    ).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'no_upstream_credential' });
    expect(logs.entries().find((e) => e.message === 'no upstream credential')).toMatchObject({
      route: 'svc',
    });
  });
});

describe('a registry’s Bearer challenge: exchange, then one more attempt when the request can be replayed', () => {
  /**
   * The route's credential with a token exchange, as the stage sees it: "basic-1" first, and
   * "exchanged-1" for the first challenge (undefined when the exchange has nothing).
   */
  function exchangingCredential(next: string | undefined) {
    const challenges: Array<[string | undefined, string]> = [];
    const ua = {
      exchange: {},
      replayBodyBytes: 16,
      authorization: () => Promise.resolve({ value: 'Basic basic-1', source: 'env' }),
      answerChallenge: (header: string | undefined, current: string) => {
        challenges.push([header, current]);
        return Promise.resolve(next);
      },
    } as unknown as RouteUpstreamAuth;
    return { ua, challenges };
  }
  const challenge: UpstreamReply = {
    statusCode: 401,
    header: (n) => (n === 'www-authenticate' ? 'Bearer realm="r",service="s"' : undefined),
    body: () => Promise.resolve(undefined),
    discard: () => undefined,
  };
  const ok: UpstreamReply = { ...challenge, statusCode: 200 };

  /** Runs forward; the upstream answers each attempt with the next reply. */
  async function run(
    ua: RouteUpstreamAuth,
    replies: UpstreamReply[],
    body?: { raw: string[]; data: string },
  ) {
    const attempts: Array<{ authorization: string | undefined; body: string | undefined }> = [];
    const req = Object.assign(
      Readable.from(body ? [Buffer.from(body.data)] : []),
      fakeRequest('/svc/x', body?.raw ?? []),
    );
    const s = scopeOf(req as unknown as IncomingMessage);
    s.framing = requestFraming(body?.raw ?? []);
    let result: AuthgateError | typeof RETRY | 'sent' | undefined;
    await stage
      .forward(
        ua,
        req as unknown as IncomingMessage,
        s,
        route('svc'),
        [],
        body !== undefined,
        async (headers, options) => {
          const reply = replies[attempts.length]!;
          attempts.push({
            authorization:
              headers[headers.findIndex((h) => h.toLowerCase() === 'authorization') + 1],
            body: options.body?.toString(),
          });
          if (reply.statusCode === 200) {
            result = 'sent';
            return;
          }
          result = await options.replaceResponse!(reply);
          if (result === RETRY) throw new ForwardRetry();
        },
      )
      .catch((e: unknown) => {
        result = e as AuthgateError;
      });
    return { attempts, result };
  }

  it('no body: the challenge is answered and the request sent again with the exchanged token', async () => {
    const { ua, challenges } = exchangingCredential('Bearer exchanged-1');
    const { attempts, result } = await run(ua, [challenge, ok]);
    expect(attempts).toEqual([
      { authorization: 'Basic basic-1', body: undefined },
      { authorization: 'Bearer exchanged-1', body: undefined },
    ]);
    expect(challenges).toEqual([['Bearer realm="r",service="s"', 'Basic basic-1']]);
    expect(result).toBe('sent');
  });

  it('a small sized body is kept and sent again', async () => {
    const { ua } = exchangingCredential('Bearer exchanged-1');
    const { attempts, result } = await run(ua, [challenge, ok], {
      raw: ['Content-Length', '5'],
      data: 'hello',
    });
    expect(attempts).toEqual([
      { authorization: 'Basic basic-1', body: 'hello' },
      { authorization: 'Bearer exchanged-1', body: 'hello' },
    ]);
    expect(result).toBe('sent');
  });

  it('a body over replayBodyBytes streams once; the challenge is answered upstream’s way', async () => {
    const { ua, challenges } = exchangingCredential('Bearer exchanged-1');
    const big = 'x'.repeat(17);
    const { attempts, result } = await run(ua, [challenge, ok], {
      raw: ['Content-Length', '17'],
      data: big,
    });
    expect(attempts).toEqual([{ authorization: 'Basic basic-1', body: undefined }]);
    expect(challenges).toHaveLength(1); // the token is cached for the client's next request
    expect(result).toBe(replaced);
  });

  it('a chunked body is never kept for a replay', async () => {
    const { ua } = exchangingCredential('Bearer exchanged-1');
    const { attempts, result } = await run(ua, [challenge, ok], {
      raw: ['Transfer-Encoding', 'chunked'],
      data: 'a',
    });
    expect(attempts).toHaveLength(1);
    expect(result).toBe(replaced);
  });

  it('an exchange that yields nothing: the 401 is answered as the upstream’s', async () => {
    const { ua } = exchangingCredential(undefined);
    const { attempts, result } = await run(ua, [challenge, ok]);
    expect(attempts).toHaveLength(1);
    expect(result).toBe(replaced);
  });

  it('a second challenge after the retry is not answered again', async () => {
    const { ua, challenges } = exchangingCredential('Bearer exchanged-1');
    const { attempts, result } = await run(ua, [challenge, challenge, ok]);
    expect(attempts).toHaveLength(2);
    expect(challenges).toHaveLength(1);
    expect(result).toBe(replaced);
  });

  it('a 403 is never a challenge', async () => {
    const { ua, challenges } = exchangingCredential('Bearer exchanged-1');
    const { attempts, result } = await run(ua, [{ ...challenge, statusCode: 403 }, ok]);
    expect([attempts.length, challenges.length, result]).toEqual([1, 0, replaced]);
  });

  it('any other failure of the transport is passed on, not retried', async () => {
    const { ua } = exchangingCredential('Bearer exchanged-1');
    const boom = new Error('socket hang up');
    let attempts = 0;
    await expect(
      stage.forward(
        ua,
        fakeRequest('/svc/x'),
        scopeOf(fakeRequest('/svc/x')),
        route('svc'),
        [],
        false,
        () => {
          attempts++;
          return Promise.reject(boom);
        },
      ),
    ).rejects.toBe(boom);
    expect(attempts).toBe(1);
  });
});
