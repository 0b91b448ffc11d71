/**
 * MLflow's per-experiment permissions as people see them in the MLflow UI: headless Chromium,
 * signed in through authgate at a real OpenID Provider (oidc-provider), the real MLflow server
 * with its permission app and authgate-mlflow. alice creates an experiment from the UI; bob
 * opens it (READ by default) but the UI's own write calls are refused by MLflow until alice
 * grants him EDIT. Screenshots of each step are written to the temp directory.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { IDP_CLIENT, startIdp, type Idp } from '../../helpers/idp';
import {
  assertionKeyFile,
  permissionsRoute,
  startMlflowServer,
  type MlflowServer,
} from '../../helpers/mlflow';
import { freePort, startProxy, type TestProxy } from '../../helpers/servers';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

jest.setTimeout(240_000);

describe('MLflow permissions in the UI (Chromium, signed in through authgate)', () => {
  let mlflow: MlflowServer;
  let idp: Idp;
  let proxy: TestProxy;
  let browser: Browser;
  let publicUrl: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    const { keyFile } = assertionKeyFile();
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    mlflow = await startMlflowServer({
      authgatePermissions: {
        jwksUrl: `${publicUrl}/.well-known/authgate/jwks.json`,
        audience: 'mlflow',
      },
    });
    idp = await startIdp({
      publicUrls: [publicUrl],
      accounts: {
        alice: { groups: ['mlflow-users'], email: 'alice@example.com' },
        bob: { groups: ['mlflow-users'], email: 'bob@example.com' },
      },
    });
    proxy = await startProxy(
      {
        identityAssertion: { keyFile },
        auth: {
          oidc: {
            issuer: idp.issuer,
            clientId: IDP_CLIENT.clientId,
            clientSecret: IDP_CLIENT.clientSecret,
            publicUrl,
            session: { cookieSecure: false },
            groupScopes: { map: { 'mlflow-users': ['mlflow:read', 'mlflow:edit'] } },
          },
        },
        routes: [permissionsRoute(mlflow.url, { login: 'browser' })],
      },
      {},
      {},
      port,
    );
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await idp?.stop();
    await mlflow?.stop();
  });

  async function signIn(user: string): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${publicUrl}/#/experiments`);
    expect(new URL(page.url()).origin).toBe(idp.issuer);
    await page.locator('input[name=login]').fill(user);
    await page.locator('input[name=password]').fill('any password');
    await page.locator('button[type=submit]').click();
    await page.getByText('Welcome to MLflow').first().waitFor({ timeout: 60_000 });
    return page;
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(tmpdir(), `authgate-mlflow-permissions-${name}.png`) });

  /** A call the UI itself makes (same origin, the session cookie, the UI's ajax-api). */
  const uiCall = (page: Page, path: string, body: unknown) =>
    page.evaluate(
      async ([p, b]) => {
        const res = await fetch(p as string, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(b),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      },
      [path, body] as const,
    );

  it('alice creates an experiment in the UI; bob sees it but may not change it until alice grants him EDIT', async () => {
    const alice = await signIn('alice');
    await alice.goto(`${publicUrl}/#/experiments`);
    await alice.getByRole('heading', { name: 'Experiments' }).first().waitFor({ timeout: 60_000 });
    const name = `alice-ui-${Date.now()}`;
    await alice.getByRole('button', { name: 'Create' }).first().click();
    await alice.locator('#experimentName').fill(name);
    await alice.locator('[role=dialog]').getByRole('button', { name: 'Create' }).click();
    await alice.getByText(name).first().waitFor({ timeout: 60_000 });
    await shot(alice, '1-alice-created');
    const found = await alice.evaluate(async (n) => {
      const res = await fetch(
        `/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(n)}`,
      );
      return (await res.json()) as { experiment: { experiment_id: string } };
    }, name);
    const id = found.experiment.experiment_id;

    // bob: READ (default_permission) — the experiment page opens.
    const bob = await signIn('bob');
    await bob.goto(`${publicUrl}/#/experiments/${id}`);
    await bob.getByText(name).first().waitFor({ timeout: 60_000 });
    await shot(bob, '2-bob-reads');
    // The UI's write (a tag on the experiment): refused by MLflow for this experiment.
    const tag = { experiment_id: id, key: 'note', value: 'from bob' };
    const refused = await uiCall(bob, '/ajax-api/2.0/mlflow/experiments/set-experiment-tag', tag);
    expect(refused).toMatchObject({ status: 403, body: { error_code: 'PERMISSION_DENIED' } });
    // authgate let it through (bob holds mlflow:edit): the refusal is MLflow's, per experiment.
    const passed = proxy.logs
      .entries()
      .filter((e) => e.type === 'access' && e.user_id === 'bob')
      .find((e) => String(e.path).endsWith('/set-experiment-tag'));
    expect(passed).toMatchObject({ status: 403, upstream_status: 403 });

    // alice grants bob EDIT from her session (MLflow 3's grant API, as the UI calls it).
    const grant = await uiCall(alice, '/ajax-api/3.0/mlflow/users/permissions/grant', {
      username: 'bob',
      resource_type: 'experiment',
      resource_id: id,
      permission: 'EDIT',
    });
    expect(grant.status).toBe(200);
    expect(
      await uiCall(bob, '/ajax-api/2.0/mlflow/experiments/set-experiment-tag', tag),
    ).toMatchObject({ status: 200 });
    // EDIT is not MANAGE: bob still may not delete it.
    expect(
      await uiCall(bob, '/ajax-api/2.0/mlflow/experiments/delete', { experiment_id: id }),
    ).toMatchObject({ status: 403 });
    await bob.reload();
    await bob.getByText(name).first().waitFor({ timeout: 60_000 });
    await shot(bob, '3-bob-after-grant');
  });
});
