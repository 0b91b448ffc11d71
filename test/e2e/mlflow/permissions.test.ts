/**
 * MLflow's own per-experiment permissions for people authgate authenticated: the real MLflow
 * server with its permission app (`--app-name basic-auth`) and authgate-mlflow
 * (integrations/mlflow) as its authorization function, behind authgate with the identity
 * assertion and `mlflowPermissions: true`; the real MLflow Python client (MlflowClient and
 * MLflow's AuthServiceClient) as alice, bob, carol (admin) and dan.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sign, type SigningKey } from '../../helpers/jwks';
import {
  AUTHGATE_MLFLOW_SRC,
  assertionKeyFile,
  permissionsRoute,
  PYTHON,
  runClient,
  startMlflowServer,
  type ClientResult,
  type MlflowServer,
} from '../../helpers/mlflow';
import { freePort, startProxy, type TestProxy } from '../../helpers/servers';

const SECRET = 'mlflow-permissions-secret-0123456789abcdef';

jest.setTimeout(240_000);

describe('MLflow permissions per experiment, for people signed in through authgate', () => {
  let mlflow: MlflowServer;
  let proxy: TestProxy;
  let assertionKey: SigningKey;

  beforeAll(async () => {
    const key = assertionKeyFile();
    const port = await freePort();
    mlflow = await startMlflowServer({
      authgatePermissions: {
        jwksUrl: `http://127.0.0.1:${port}/.well-known/authgate/jwks.json`,
        audience: 'mlflow',
      },
    });
    proxy = await startProxy(
      {
        identityAssertion: { keyFile: key.keyFile, issuer: 'authgate' },
        auth: { jwt: { issuers: [{ issuer: 'idp', algorithms: ['HS256'], secret: SECRET }] } },
        routes: [permissionsRoute(mlflow.url)],
      },
      {},
      {},
      port,
    );
    assertionKey = await key.signingKey(proxy.url);
  });

  afterAll(async () => {
    await proxy?.close();
    await mlflow?.stop();
  });

  const READ_EDIT = 'mlflow:read mlflow:edit';
  const tokenOf = (sub: string, scope = READ_EDIT) =>
    sign(SECRET, { iss: 'idp', sub, claims: { scope } });
  const as = (sub: string, args: string[], scope = READ_EDIT): Promise<ClientResult> =>
    runClient(['attempt', ...args], {
      MLFLOW_TRACKING_URI: proxy.url,
      MLFLOW_TRACKING_TOKEN: tokenOf(sub, scope),
    });
  const ok = (r: ClientResult) => {
    expect(r.json).toMatchObject({ ok: true });
    return r.json.result;
  };
  const denied = (r: ClientResult, status = 403) =>
    expect(r.json).toMatchObject({ ok: false, status });

  let experiment = '';

  test('alice creates an experiment and gets MANAGE on it', async () => {
    experiment = String(ok(await as('alice', ['create-experiment'])));
    expect(ok(await as('alice', ['permission', 'alice', 'experiment', experiment]))).toBe('MANAGE');
  });

  test('bob (edit scope) reads it but cannot write to it while default_permission is READ', async () => {
    expect(ok(await as('bob', ['get-experiment', experiment]))).toMatch(/^exp-/);
    const write = await as('bob', ['set-experiment-tag', experiment, 'bob was here']);
    denied(write);
    expect(write.json.error_code).toBe('PERMISSION_DENIED');
  });

  test('after alice grants bob EDIT (MLflow 3 grant API), bob can write; after she revokes it, not', async () => {
    ok(await as('alice', ['grant', 'bob', 'experiment', experiment, 'EDIT']));
    ok(await as('bob', ['set-experiment-tag', experiment, 'granted']));
    // EDIT is not MANAGE: bob cannot delete it nor grant others.
    denied(await as('bob', ['delete-experiment', experiment]));
    denied(await as('bob', ['grant', 'erin', 'experiment', experiment, 'EDIT']));
    ok(await as('alice', ['revoke', 'bob', 'experiment', experiment]));
    denied(await as('bob', ['set-experiment-tag', experiment, 'revoked']));
  });

  test('an admin (mlflow:admin) manages everything; without the scope the same person is not admin', async () => {
    const admin = `${READ_EDIT} mlflow:admin`;
    ok(await as('carol', ['set-experiment-tag', experiment, 'by admin'], admin));
    ok(await as('carol', ['grant', 'bob', 'experiment', experiment, 'READ'], admin));
    // The same person, the scope gone: MLflow no longer treats carol as admin.
    denied(await as('carol', ['set-experiment-tag', experiment, 'not admin now']));
  });

  test('the bootstrap admin_username grants nothing by name', async () => {
    denied(await as('admin', ['set-experiment-tag', experiment, 'by name']));
  });

  test('user administration needs mlflow:admin at authgate (edit scope: 403 before MLflow)', async () => {
    const res = await as('bob', ['create-user', 'mallory']);
    denied(res);
    expect(JSON.stringify(res.json)).toMatch(/mlflow:admin/);
  });

  test('a colleague who never signed in is created with the command line, then granted', async () => {
    const { stdout } = await promisify(execFile)(
      PYTHON,
      ['-m', 'authgate_mlflow', 'create-user', 'dan'],
      {
        env: {
          ...process.env,
          PYTHONPATH: AUTHGATE_MLFLOW_SRC,
          MLFLOW_AUTH_CONFIG_PATH: join(mlflow.dir, 'authgate_permissions.ini'),
        },
      },
    );
    expect(stdout).toMatch(/dan: created/);
    ok(await as('alice', ['grant', 'dan', 'experiment', experiment, 'EDIT']));
    ok(await as('dan', ['set-experiment-tag', experiment, 'dan, first visit']));
  });

  test('alice deletes her own experiment with the edit scope alone (MANAGE in MLflow)', async () => {
    ok(await as('alice', ['delete-experiment', experiment]));
  });

  describe('a request that reaches MLflow without authgate is refused by MLflow', () => {
    const direct = (headers: Record<string, string>) =>
      fetch(`${mlflow.url}/api/2.0/mlflow/experiments/search?max_results=1`, { headers });
    const claims = (over: Record<string, unknown> = {}) => ({
      iss: 'authgate',
      aud: 'mlflow',
      sub: 'alice',
      claims: { scopes: ['mlflow:read', 'mlflow:admin'], tenants: [], auth_method: 'jwt' },
      ...over,
    });

    test('a valid assertion is accepted (the control)', async () => {
      const res = await direct({ 'X-Authgate-Assertion': sign(assertionKey, claims()) });
      expect(res.status).toBe(200);
    });

    test.each<[string, () => Record<string, string>]>([
      ['no assertion', () => ({})],
      ["the caller's own bearer token", () => ({ Authorization: `Bearer ${tokenOf('alice')}` })],
      [
        'a forged assertion (another key under authgate’s kid)',
        () => {
          const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
          return {
            'X-Authgate-Assertion': sign(
              { ...assertionKey, privateKey: other.privateKey },
              claims(),
            ),
          };
        },
      ],
      [
        'an expired assertion',
        () => ({ 'X-Authgate-Assertion': sign(assertionKey, claims({ expiresInSec: -120 })) }),
      ],
      [
        'an assertion for another route',
        () => ({ 'X-Authgate-Assertion': sign(assertionKey, claims({ aud: 'reports' })) }),
      ],
      [
        'basic auth as the bootstrap admin',
        () => ({
          Authorization: `Basic ${Buffer.from('admin:bootstrap-password-0123456789').toString('base64')}`,
        }),
      ],
    ])('%s: 401', async (_what, headers) => {
      const res = await direct(headers());
      expect(res.status).toBe(401);
    });
  });
});
