/**
 * `tenantFromToken` with the real MLflow client and a real MLflow server with workspaces: a token
 * limited to one tenant, sent with `MLFLOW_WORKSPACE` unset, lands in MLflow's default workspace
 * through a route without the option — and in its own workspace through a route with it.
 */
import { sign } from '../../helpers/jwks';
import { runClient, startMlflowServer, type MlflowServer } from '../../helpers/mlflow';
import { startProxy, type TestProxy } from '../../helpers/servers';

const SECRET = 'mlflow-workspace-secret-0123456789abcdefg';

jest.setTimeout(180_000);

describe('tenantFromToken with the real MLflow client and workspaces', () => {
  let mlflow: MlflowServer;
  let plain: TestProxy;
  let fromToken: TestProxy;

  beforeAll(async () => {
    mlflow = await startMlflowServer({ workspaces: true });
    const created = await fetch(`${mlflow.url}/api/3.0/mlflow/workspaces`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'acme' }),
    });
    expect(created.status).toBe(201);
    const config = (tenantFromToken: boolean) => ({
      auth: { jwt: { issuers: [{ issuer: 'ml', algorithms: ['HS256'], secret: SECRET }] } },
      routes: [
        {
          name: 'mlflow',
          prefix: '/',
          upstream: mlflow.url,
          preset: 'mlflow',
          tenantHeader: 'X-MLFLOW-WORKSPACE',
          tenantFromToken,
        },
      ],
    });
    plain = await startProxy(config(false));
    fromToken = await startProxy(config(true));
  });

  afterAll(async () => {
    await plain?.close();
    await fromToken?.close();
    await mlflow?.stop();
  });

  const token = sign(SECRET, {
    iss: 'ml',
    sub: 'acme-trainer',
    claims: { scope: 'mlflow:read mlflow:edit mlflow:manage', tenant_ids: ['acme'] },
  });

  async function workspaceOf(name: string): Promise<string[]> {
    const found: string[] = [];
    for (const workspace of ['default', 'acme']) {
      const res = await fetch(
        `${mlflow.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
        { headers: { 'X-MLFLOW-WORKSPACE': workspace } },
      );
      if (res.status === 200) found.push(workspace);
    }
    return found;
  }

  it.each([
    ['without tenantFromToken: the default workspace', () => plain, 'plain', ['default']],
    ['with tenantFromToken: its own workspace', () => fromToken, 'from-token', ['acme']],
  ])('%s', async (_what, proxy, suffix, expected) => {
    const r = await runClient(['flow'], {
      MLFLOW_TRACKING_URI: proxy().url,
      MLFLOW_TRACKING_TOKEN: token,
      ARTIFACT_MB: '1',
      FLOW_SUFFIX: `ws-${suffix}`,
    });
    expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr.slice(-2000) }).toEqual({
      code: 0,
      stderr: '',
    });
    expect(await workspaceOf(`authgate-flow-ws-${suffix}`)).toEqual(expected);
  });
});
