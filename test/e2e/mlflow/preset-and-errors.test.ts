/**
 * The MLflow preset with the real MLflow client: the preset's scopes (read can search and
 * download but not log or delete; edit can log but not delete; manage can do all), and
 * MLflow-style errors the client understands — the right RestException error_code and HTTP
 * status, authgate's precise code in the message, no "error code not recognized" warning.
 */
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { sign } from '../../helpers/jwks';
import { ManualClock } from '../../helpers/manual-clock';
import {
  runClient,
  MLFLOW_ADMIN,
  sharedMlflowServer,
  type ClientResult,
  type MlflowServer,
} from '../../helpers/mlflow';
import { freePort, startProxy, type TestProxy } from '../../helpers/servers';

const SECRET = 'mlflow-errors-secret-0123456789abcdefgh';
const READ = 'mlflow:read';
const EDIT = 'mlflow:read mlflow:edit';
const ALL = 'mlflow:read mlflow:edit mlflow:manage';
const token = (scope: string, extra: Record<string, unknown> = {}) =>
  sign(SECRET, {
    iss: 'idp',
    aud: 'mlflow',
    sub: 'alice',
    claims: { scope, tenant_ids: ['t1'] },
    ...extra,
  });
const jwt = {
  issuers: [{ issuer: 'idp', audience: 'mlflow', algorithms: ['HS256'], secret: SECRET }],
};

jest.setTimeout(180_000);

function expectMlflowError(
  r: ClientResult,
  errorCode: string,
  status: number,
  authgateCode: string,
): void {
  expect(r.json).toMatchObject({ ok: false, type: 'RestException', error_code: errorCode, status });
  expect(String(r.json.message)).toContain(`[authgate: ${authgateCode}]`);
  expect((r.json.warnings as string[]).filter((w) => /not recognized/i.test(w))).toEqual([]);
  console.log(
    `${authgateCode}: ${String(r.json.type)} error_code=${errorCode} status=${status} message=${String(r.json.message)}`,
  );
}

/**
 * 429 and 5xx are in the MLflow client's retry list: it retries them (honouring Retry-After)
 * and, once its retries are spent, raises MlflowException("... too many 503 error responses")
 * without reading the body — as it does for the MLflow server's own 429/503. The body, for
 * clients that read it (the UI, other SDKs), is checked over plain HTTP.
 */
function expectRetriedStatus(r: ClientResult, status: number): void {
  expect(r.json).toMatchObject({ ok: false, type: 'MlflowException' });
  expect(String(r.json.message)).toContain(`too many ${status} error responses`);
  expect((r.json.warnings as string[]).filter((w) => /not recognized/i.test(w))).toEqual([]);
  console.log(
    `${status}: ${String(r.json.type)} error_code=${String(r.json.error_code)} message=${String(r.json.message)}`,
  );
}

async function expectMlflowBody(
  url: string,
  headers: Record<string, string>,
  status: number,
  errorCode: string,
  authgateCode: string,
): Promise<Response> {
  const res = await fetch(url, { headers });
  expect(res.status).toBe(status);
  expect(await res.json()).toMatchObject({
    error_code: errorCode,
    authgate_code: authgateCode,
    status,
  });
  return res;
}

describe('MLflow preset and MLflow-style errors, with the real client', () => {
  let mlflow: MlflowServer;
  let service: AuthService;
  let proxy: TestProxy;
  let run: { experiment_id: string; run_id: string };
  const uri = () => `http://127.0.0.1:${proxy.port}`;
  const attempt = (
    tokenValue: string | undefined,
    op: string,
    args: string[] = [],
    env: NodeJS.ProcessEnv = {},
  ) =>
    runClient(['try', op, ...args], {
      MLFLOW_TRACKING_URI: uri(),
      ...(tokenValue ? { MLFLOW_TRACKING_TOKEN: tokenValue } : {}),
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
      ...env,
    });

  beforeAll(async () => {
    mlflow = sharedMlflowServer('plain');
    service = await startAuthService();
    const flow = await runClient(['flow'], { MLFLOW_TRACKING_URI: mlflow.url, ARTIFACT_MB: '1' });
    expect({ code: flow.code, stderr: flow.code === 0 ? '' : flow.stderr.slice(-2000) }).toEqual({
      code: 0,
      stderr: '',
    });
    run = flow.json as typeof run;
    proxy = await startProxy({
      auth: {
        jwt,
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl: `http://127.0.0.1:${await freePort()}/down`,
          retries: 0,
        },
      },
      routes: [
        {
          name: 'mlflow',
          prefix: '/',
          upstream: mlflow.url,
          preset: 'mlflow',
          tenantHeader: 'X-MLFLOW-WORKSPACE',
        },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await service?.close();
  });

  describe('the preset with the real client', () => {
    it('a read token can search and download, not log or delete', async () => {
      const t = token(READ);
      expect((await attempt(t, 'search-runs', [run.experiment_id])).json).toMatchObject({
        ok: true,
        result: 1,
      });
      expect((await attempt(t, 'download', [run.run_id, 'model/model.bin'])).json).toMatchObject({
        ok: true,
      });
      expectMlflowError(
        await attempt(t, 'log', [run.run_id]),
        'PERMISSION_DENIED',
        403,
        'INSUFFICIENT_SCOPE',
      );
      expectMlflowError(
        await attempt(t, 'delete-run', [run.run_id]),
        'PERMISSION_DENIED',
        403,
        'INSUFFICIENT_SCOPE',
      );
    });

    it('an edit token can log and create, not delete', async () => {
      const t = token(EDIT);
      expect((await attempt(t, 'log', [run.run_id])).json).toMatchObject({ ok: true });
      const created = await attempt(t, 'create-run', [run.experiment_id]);
      expect(created.json).toMatchObject({ ok: true });
      expectMlflowError(
        await attempt(t, 'delete-run', [String(created.json.result)]),
        'PERMISSION_DENIED',
        403,
        'INSUFFICIENT_SCOPE',
      );
    });

    it('a manage token can do all', async () => {
      const t = token(ALL);
      const created = await attempt(t, 'create-run', [run.experiment_id]);
      expect((await attempt(t, 'delete-run', [String(created.json.result)])).json).toMatchObject({
        ok: true,
      });
    });
  });

  describe('errors the MLflow client understands', () => {
    it('expired token → UNAUTHENTICATED 401', async () => {
      expectMlflowError(
        await attempt(token(ALL, { expiresInSec: -3600 }), 'search'),
        'UNAUTHENTICATED',
        401,
        'TOKEN_EXPIRED',
      );
    });

    it('wrong audience → UNAUTHENTICATED 401', async () => {
      expectMlflowError(
        await attempt(token(ALL, { aud: 'other' }), 'search'),
        'UNAUTHENTICATED',
        401,
        'TOKEN_INVALID',
      );
    });

    it('no credential → UNAUTHENTICATED 401', async () => {
      expectMlflowError(
        await attempt(undefined, 'search'),
        'UNAUTHENTICATED',
        401,
        'AUTH_REQUIRED',
      );
    });

    it('missing scope → PERMISSION_DENIED 403', async () => {
      expectMlflowError(
        await attempt(token('other:scope'), 'search'),
        'PERMISSION_DENIED',
        403,
        'INSUFFICIENT_SCOPE',
      );
    });

    it('wrong tenant (MLFLOW_WORKSPACE → X-MLFLOW-WORKSPACE) → 403 TENANT_FORBIDDEN', async () => {
      // With MLFLOW_WORKSPACE set the client first probes server-info and reports any non-200
      // there as "Failed to query ...: 403 <body>" (MlflowException, TEMPORARILY_UNAVAILABLE).
      const r = await attempt(token(ALL), 'search', [], { MLFLOW_WORKSPACE: 't9' });
      expect(r.json).toMatchObject({ ok: false, type: 'MlflowException' });
      expect(String(r.json.message)).toMatch(
        /: 403 .*"error_code":"PERMISSION_DENIED".*"authgate_code":"TENANT_FORBIDDEN"/,
      );
      console.log(
        `TENANT_FORBIDDEN: ${String(r.json.type)} error_code=${String(r.json.error_code)} message=${String(r.json.message)}`,
      );
      await expectMlflowBody(
        `${uri()}/api/2.0/mlflow/experiments/search?max_results=1`,
        { Authorization: `Bearer ${token(ALL)}`, 'X-MLFLOW-WORKSPACE': 't9' },
        403,
        'PERMISSION_DENIED',
        'TENANT_FORBIDDEN',
      );
    });

    it('auth service down → 503 TEMPORARILY_UNAVAILABLE', async () => {
      expectRetriedStatus(await attempt('hok_live_servicedown0123456789', 'search'), 503);
      await expectMlflowBody(
        `${uri()}/api/2.0/mlflow/experiments/search?max_results=1`,
        { Authorization: 'Bearer hok_live_servicedown0123456789' },
        503,
        'TEMPORARILY_UNAVAILABLE',
        'AUTH_SERVICE_UNAVAILABLE',
      );
    });
  });

  describe('rate limited, and the client retry honours Retry-After', () => {
    let limited: TestProxy;
    let clock: ManualClock;
    beforeAll(async () => {
      // One request every 2 s, no burst: the second one in a row gets Retry-After 2.
      clock = new ManualClock();
      limited = await startProxy(
        {
          auth: { jwt },
          routes: [
            {
              name: 'mlflow',
              prefix: '/',
              upstream: mlflow.url,
              preset: 'mlflow',
              rateLimit: { requestsPerMinute: 30, burst: 1 },
            },
          ],
        },
        { clock },
      );
    });
    afterAll(() => limited?.close());
    const limitedAttempt = (retries: string, sub: string) =>
      runClient(['try', 'search'], {
        MLFLOW_TRACKING_URI: `http://127.0.0.1:${limited.port}`,
        MLFLOW_TRACKING_TOKEN: token(ALL, { sub }),
        MLFLOW_HTTP_REQUEST_MAX_RETRIES: retries,
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0',
      });

    it('over the limit → 429 REQUEST_LIMIT_EXCEEDED with Retry-After', async () => {
      expect((await limitedAttempt('0', 'rl-over')).json).toMatchObject({ ok: true });
      expectRetriedStatus(await limitedAttempt('0', 'rl-over'), 429);
      const res = await expectMlflowBody(
        `http://127.0.0.1:${limited.port}/api/2.0/mlflow/experiments/search?max_results=1`,
        { Authorization: `Bearer ${token(ALL, { sub: 'rl-over' })}` },
        429,
        'REQUEST_LIMIT_EXCEEDED',
        'RATE_LIMITED',
      );
      expect(res.headers.get('retry-after')).toBe('2');
    });

    it('with a retry, the client waits Retry-After and gets through once the interval passed', async () => {
      expect((await limitedAttempt('0', 'rl-1')).json).toMatchObject({ ok: true });
      const pending = limitedAttempt('1', 'rl-1');
      // when authgate has answered the 429, time moves on (the client is sleeping Retry-After)
      for (
        let i = 0;
        i < 200 && !limited.logs.entries().some((e) => e.status === 429 && e.user_id === 'rl-1');
        i++
      ) {
        if (i === 0) await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, 25));
      }
      await clock.advance(2_000);
      const r = await pending;
      expect(r.json).toMatchObject({ ok: true });
      expect(Number(r.json.seconds)).toBeGreaterThanOrEqual(1.9);
    });
  });
});

describe('the upstream MLflow answering 401/403 itself (its basic-auth app)', () => {
  let secured: MlflowServer;
  let proxy: TestProxy;
  let runId: string;
  const admin = MLFLOW_ADMIN;
  beforeAll(async () => {
    secured = sharedMlflowServer('basic-auth');
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    const res = await fetch(`${secured.url}/api/2.0/mlflow/users/create`, {
      method: 'POST',
      headers: {
        Authorization: basic(admin.adminUser, admin.adminPassword),
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ username: 'bob', password: 'bob-password-0123456789' }),
    });
    expect(res.status).toBe(200);
    const flow = await runClient(['flow'], {
      MLFLOW_TRACKING_URI: secured.url,
      MLFLOW_TRACKING_USERNAME: admin.adminUser,
      MLFLOW_TRACKING_PASSWORD: admin.adminPassword,
      ARTIFACT_MB: '1',
    });
    expect({ code: flow.code, stderr: flow.code === 0 ? '' : flow.stderr.slice(-2000) }).toEqual({
      code: 0,
      stderr: '',
    });
    runId = String(flow.json.run_id);
    proxy = await startProxy({
      routes: [
        { name: 'mlflow', prefix: '/', upstream: secured.url, auth: 'none', errorStyle: 'mlflow' },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it("MLflow's 401 → UNAUTHENTICATED, origin upstream", async () => {
    const r = await runClient(['try', 'search'], {
      MLFLOW_TRACKING_URI: `http://127.0.0.1:${proxy.port}`,
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
    });
    expectMlflowError(r, 'UNAUTHENTICATED', 401, 'UPSTREAM_UNAUTHENTICATED');
    expect(r.json.body).toMatchObject({ origin: 'upstream' });
  });

  it("MLflow's 403 → PERMISSION_DENIED, origin upstream", async () => {
    const r = await runClient(['try', 'delete-run', runId], {
      MLFLOW_TRACKING_URI: `http://127.0.0.1:${proxy.port}`,
      MLFLOW_TRACKING_USERNAME: 'bob',
      MLFLOW_TRACKING_PASSWORD: 'bob-password-0123456789',
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
    });
    expectMlflowError(r, 'PERMISSION_DENIED', 403, 'UPSTREAM_FORBIDDEN');
    expect(r.json.body).toMatchObject({ origin: 'upstream' });
  });
});
