/**
 * The MLflow UI through authgate in headless Chromium (Debian's chromium driven by
 * playwright-core), with the token supplied as an extra request header: the UI loads, lists
 * the experiment and opens the run; every request it made went through the preset and none got
 * a 403 or 404 from authgate.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { sign } from '../../helpers/jwks';
import { runClient, sharedMlflowServer, type MlflowServer } from '../../helpers/mlflow';
import { startProxy, type TestProxy } from '../../helpers/servers';

const SECRET = 'mlflow-ui-secret-0123456789abcdefghijkl';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

jest.setTimeout(180_000);

describe('the MLflow UI through authgate in headless Chromium', () => {
  let mlflow: MlflowServer;
  let proxy: TestProxy;
  let browser: Browser;
  let flow: { experiment_id: string; run_id: string };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    mlflow = sharedMlflowServer('plain');
    const r = await runClient(['flow'], {
      MLFLOW_TRACKING_URI: mlflow.url,
      ARTIFACT_MB: '1',
      FLOW_SUFFIX: 'ui',
    });
    expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr.slice(-2000) }).toEqual({
      code: 0,
      stderr: '',
    });
    flow = r.json as typeof flow;
    proxy = await startProxy({
      auth: {
        jwt: {
          issuers: [{ issuer: 'idp', audience: 'mlflow', algorithms: ['HS256'], secret: SECRET }],
        },
      },
      routes: [{ name: 'mlflow', prefix: '/', upstream: mlflow.url, preset: 'mlflow' }],
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
  });

  it('with a read-only token the UI lists the experiment and opens the run', async () => {
    const token = sign(SECRET, {
      iss: 'idp',
      aud: 'mlflow',
      sub: 'viewer',
      claims: { scope: 'mlflow:read' },
    });
    const context = await browser.newContext({
      extraHTTPHeaders: { Authorization: `Bearer ${token}` },
    });
    const page = await context.newPage();
    const statuses: Array<[number, string]> = [];
    page.on('response', (res) => statuses.push([res.status(), res.url()]));

    await page.goto(`${proxy.url}/#/experiments`);
    await page.getByText('authgate-flow-ui').first().waitFor({ timeout: 60_000 });

    await page.goto(`${proxy.url}/#/experiments/${flow.experiment_id}/runs/${flow.run_id}`);
    await page.getByText('through-authgate').first().waitFor({ timeout: 60_000 });
    await page.getByText('alpha').first().waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(tmpdir(), 'authgate-mlflow-ui-run.png') });
    await context.close();

    // every request of the UI went through authgate (none refused by it)
    const access = proxy.logs
      .entries()
      .filter((e) => e.type === 'access' && e.user_id === 'viewer');
    expect(access.length).toBeGreaterThan(5);
    const refused = access.filter(
      (e) => e.error_code !== undefined && [403, 404].includes(Number(e.status)),
    );
    expect(
      refused.map(
        (e) => `${String(e.status)} ${String(e.method)} ${String(e.path)} ${String(e.error_code)}`,
      ),
    ).toEqual([]);
    // MLflow itself answers 404 for features it has off (users/current without its auth app,
    // the assistant); nothing was refused: no 401 or 403 reached the browser
    expect(statuses.filter(([status]) => status === 401 || status === 403)).toEqual([]);
    expect(statuses.filter(([, url]) => url.startsWith(proxy.url)).length).toBeGreaterThan(5);
  });

  it('without a token the UI gets 401 from authgate, not MLflow data', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const res = await page.goto(`${proxy.url}/`);
    expect(res?.status()).toBe(401);
    await context.close();
  });
});
