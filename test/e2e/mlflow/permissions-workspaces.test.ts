/**
 * With MLflow workspaces (`--enable-workspaces`) and MLflow's permission app behind authgate
 * (authgate-mlflow): a person's tenants are the workspaces they can use — granted on sight,
 * taken away when the tenant goes — enforced by MLflow itself.
 */
import { sign, type SigningKey } from '../../helpers/jwks';
import {
  assertionKeyFile,
  permissionsRoute,
  startMlflowServer,
  type MlflowServer,
} from '../../helpers/mlflow';
import { freePort, startProxy, type TestProxy } from '../../helpers/servers';

const SECRET = 'mlflow-workspace-perm-secret-0123456789ab';

jest.setTimeout(180_000);

describe('tenants become MLflow workspace access', () => {
  let mlflow: MlflowServer;
  let proxy: TestProxy;
  let key: SigningKey;

  beforeAll(async () => {
    const assertion = assertionKeyFile();
    const port = await freePort();
    mlflow = await startMlflowServer({
      workspaces: true,
      authgatePermissions: {
        jwksUrl: `http://127.0.0.1:${port}/.well-known/authgate/jwks.json`,
        audience: 'mlflow',
      },
    });
    proxy = await startProxy(
      {
        identityAssertion: { keyFile: assertion.keyFile },
        auth: { jwt: { issuers: [{ issuer: 'idp', algorithms: ['HS256'], secret: SECRET }] } },
        routes: [permissionsRoute(mlflow.url, { tenantHeader: 'X-MLFLOW-WORKSPACE' })],
      },
      {},
      {},
      port,
    );
    key = await assertion.signingKey(proxy.url);
    // An MLflow admin (mlflow:admin, through authgate) makes the two workspaces.
    const admin = sign(SECRET, {
      iss: 'idp',
      sub: 'carol',
      claims: { scope: 'mlflow:read mlflow:edit mlflow:admin', tenant_ids: [] },
    });
    for (const name of ['acme', 'globex']) {
      const res = await fetch(`${proxy.url}/api/3.0/mlflow/workspaces`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      expect(res.status).toBe(201);
    }
  });

  afterAll(async () => {
    await proxy?.close();
    await mlflow?.stop();
  });

  /** Straight to MLflow with an assertion authgate's key signed (what authgate sends). */
  const direct = (tenants: string[], workspace: string, path: string, body?: unknown) =>
    fetch(`${mlflow.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        'X-Authgate-Assertion': sign(key, {
          iss: 'authgate',
          aud: 'mlflow',
          sub: 'alice',
          claims: { scopes: ['mlflow:read', 'mlflow:edit'], tenants, auth_method: 'jwt' },
        }),
        'X-MLFLOW-WORKSPACE': workspace,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const create = (tenants: string[], workspace: string) =>
    direct(tenants, workspace, '/api/2.0/mlflow/experiments/create', {
      name: `ws-${workspace}-${Date.now()}-${Math.random()}`,
    });

  test("through authgate: alice works in her tenant's workspace", async () => {
    const token = sign(SECRET, {
      iss: 'idp',
      sub: 'alice',
      claims: { scope: 'mlflow:read mlflow:edit', tenant_ids: ['acme'] },
    });
    const res = await fetch(`${proxy.url}/api/2.0/mlflow/experiments/create`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'X-MLFLOW-WORKSPACE': 'acme',
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ name: `alice-in-acme-${Date.now()}` }),
    });
    expect(res.status).toBe(200);
  });

  test('MLflow itself refuses a workspace that is not among the tenants', async () => {
    expect((await create(['acme'], 'acme')).status).toBe(200);
    expect((await create(['acme'], 'globex')).status).toBe(403);
  });

  test('when the tenants change, the workspace access follows (granted and taken away)', async () => {
    expect((await create(['globex'], 'globex')).status).toBe(200);
    expect((await create(['globex'], 'acme')).status).toBe(403);
  });
});
