/**
 * docs/design.md#command-line: `authgate smoke-test` sends one request through a running proxy and
 * reports status, typed error, request id and time; exit 0 when the status is as expected.
 * Against a real authgate process in good and broken states; the credential is never printed.
 */
import { sign } from '../../helpers/jwks';
import { runCli, spawnProxy, type ProxyProcess } from '../../helpers/process';
import { freePort, route, startUpstream, type TestUpstream } from '../../helpers/servers';

jest.setTimeout(60_000);

const SECRET = 'smoke-test-secret-0123456789abcdefghij';

describe('authgate smoke-test', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  const token = sign(SECRET, { iss: 'smoke', sub: 'sam' });

  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await spawnProxy({
      server: { port: await freePort(), host: '127.0.0.1' },
      auth: { jwt: { issuers: [{ issuer: 'smoke', algorithms: ['HS256'], secret: SECRET }] } },
      routes: [route(upstream.url, { auth: 'required' })],
    });
  });
  afterAll(async () => {
    proxy.child.kill('SIGTERM');
    await proxy.exited;
    await upstream.close();
  });

  it('a good token: OK 200 with the request id and time, exit 0, token never printed', async () => {
    const r = await runCli(
      ['smoke-test', '--url', `${proxy.url}/x`, '--token-env', 'SMOKE_TOKEN'],
      { SMOKE_TOKEN: token },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^OK {4}200 {2}request_id=[0-9a-f-]{36} {2}\d+\.\d ms {2}expected 2xx\n$/,
    );
    expect(r.stdout + r.stderr).not.toContain(token);
  });

  it('no credential: FAIL 401 with the typed error, exit 1; with --expect 401 it passes', async () => {
    const r = await runCli(['smoke-test', '--url', `${proxy.url}/x`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}401 {2}error_code=AUTH_REQUIRED {2}request_id=/);
    const expected = await runCli(['smoke-test', '--url', `${proxy.url}/x`, '--expect', '401']);
    expect(expected.code).toBe(0);
  });

  it('a bad token: FAIL 401 TOKEN_INVALID', async () => {
    const r = await runCli(['smoke-test', '--url', `${proxy.url}/x`, '--token-env', 'T'], {
      T: `${token}x`,
    });
    expect([r.code, /error_code=TOKEN_INVALID/.test(r.stdout)]).toEqual([1, true]);
  });

  it('nothing listening: FAIL with the reason, exit 1', async () => {
    const r = await runCli(['smoke-test', '--url', `http://127.0.0.1:${await freePort()}/x`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}no answer from http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  it.each([
    [['--url', 'not-a-url'], /--url must be an http\(s\) URL/],
    [
      ['--url', 'http://x', '--token-env', 'UNSET_SMOKE_VAR'],
      /UNSET_SMOKE_VAR: that environment variable is not set/,
    ],
    [['--url', 'http://x', '--expect', 'ok'], /--expect must be an HTTP status/],
    [['--url', 'http://x', '--token-env', 'A', '--api-key-env', 'B'], /not both/],
  ])('usage errors exit 2: %j', async (args, message) => {
    const r = await runCli(['smoke-test', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
