/**
 * A person signs in to the MLflow UI through authgate, with no ALB anywhere: headless Chromium
 * (Debian's, driven by playwright-core) is sent to a real OpenID Provider (oidc-provider) by
 * authgate, signs in on its login form, lands on the MLflow UI served by the real MLflow server,
 * creates an experiment from the UI, and signs out. Screenshots of each step are written to
 * the temp directory.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { IDP_CLIENT, startIdp, type Idp } from '../../helpers/idp';
import { sharedMlflowServer, type MlflowServer } from '../../helpers/mlflow';
import { freePort, startProxy, type TestProxy } from '../../helpers/servers';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

jest.setTimeout(180_000);

describe('signing in to the MLflow UI through authgate (OIDC, Chromium)', () => {
  let mlflow: MlflowServer;
  let idp: Idp;
  let proxy: TestProxy;
  let browser: Browser;
  let publicUrl: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    mlflow = sharedMlflowServer('plain');
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    idp = await startIdp({
      publicUrls: [publicUrl],
      accounts: { alice: { groups: ['mlflow-editors'], email: 'alice@example.com' } },
    });
    proxy = await startProxy(
      {
        auth: {
          oidc: {
            issuer: idp.issuer,
            clientId: IDP_CLIENT.clientId,
            clientSecret: IDP_CLIENT.clientSecret,
            publicUrl,
            session: { cookieSecure: false },
            groupScopes: { map: { 'mlflow-editors': ['mlflow:read', 'mlflow:edit'] } },
          },
        },
        routes: [
          { name: 'mlflow', prefix: '/', upstream: mlflow.url, preset: 'mlflow', login: 'browser' },
        ],
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
  });

  it('signs in at the provider, lands on the UI, creates an experiment, signs out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const statuses: Array<[number, string]> = [];
    page.on('response', (res) => statuses.push([res.status(), res.url()]));
    const shot = (name: string) =>
      page.screenshot({ path: join(tmpdir(), `authgate-sign-in-${name}.png`) });

    const started = Date.now();
    await page.goto(`${publicUrl}/#/experiments`);
    // authgate sent the browser to the provider's login form.
    expect(new URL(page.url()).origin).toBe(idp.issuer);
    await shot('1-provider-login');
    await page.locator('input[name=login]').fill('alice');
    await page.locator('input[name=password]').fill('any password');
    await page.locator('button[type=submit]').click();

    // Back on authgate's origin, on the page first asked for (a browser never sends the
    // `#/experiments` fragment, so the UI opens on its home page): the MLflow UI.
    await page.getByText('Welcome to MLflow').first().waitFor({ timeout: 60_000 });
    const signInMs = Date.now() - started;
    expect(new URL(page.url()).origin).toBe(publicUrl);
    await shot('2-mlflow-ui');
    await page.goto(`${publicUrl}/#/experiments`);
    await page.getByRole('heading', { name: 'Experiments' }).first().waitFor({ timeout: 60_000 });
    const cookies = await context.cookies(publicUrl);
    const session = cookies.find((c) => c.name === 'authgate_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });

    const name = `signed-in-${Date.now()}`;
    await page.getByRole('button', { name: 'Create' }).first().click();
    await page.locator('#experimentName').fill(name);
    await page.locator('[role=dialog]').getByRole('button', { name: 'Create' }).click();
    await page.getByText(name).first().waitFor({ timeout: 60_000 });
    await shot('3-experiment-created');

    // MLflow itself has the experiment.
    const found = await fetch(
      `${mlflow.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
    );
    expect(found.status).toBe(200);

    // Every request of the UI went through authgate in alice's name; none refused by authgate.
    const access = proxy.logs.entries().filter((e) => e.type === 'access' && e.user_id === 'alice');
    expect(access.length).toBeGreaterThan(5);
    expect(access.every((e) => e.auth_method === 'session')).toBe(true);
    const created = access.find(
      (e) => e.method === 'POST' && String(e.path).endsWith('/experiments/create'),
    );
    expect(created).toMatchObject({ status: 200 });
    expect(
      statuses.filter(([s, url]) => url.startsWith(publicUrl) && (s === 401 || s === 403)),
    ).toEqual([]);

    // Sign out: the session ends at authgate and at the provider.
    await page.goto(`${publicUrl}/oauth2/logout`);
    expect(new URL(page.url()).origin).toBe(idp.issuer);
    await shot('4-provider-sign-out');
    const confirm = page.locator('button[autofocus], button[type=submit]').first();
    if (await confirm.count()) await confirm.click();
    await page.waitForURL((u) => u.origin === publicUrl || u.origin === idp.issuer, {
      timeout: 30_000,
    });
    expect((await context.cookies(publicUrl)).some((c) => c.name === 'authgate_session')).toBe(
      false,
    );
    // The next navigation needs a sign-in again.
    await page.goto(`${publicUrl}/#/experiments`);
    expect(new URL(page.url()).origin).toBe(idp.issuer);
    await shot('5-signed-out');
    await context.close();
    console.log(`sign-in to the MLflow UI took ${signInMs} ms`);
  });
});
