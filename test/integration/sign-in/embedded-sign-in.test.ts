/**
 * Browser sign-in in an Express 5 app that embeds authgate: `gate.express()` answers the
 * callback and logout paths, `gate.authenticate({ login: 'browser' })` sends a browser to sign
 * in and then lets the signed-in person through to the app's own handler — with the same real
 * OpenID Provider as the proxy's tests.
 */
import express from 'express';
import { createServer, type Server } from 'node:http';
import { createAuthgate, type Authgate } from '../../../src/index';
import { createLogger } from '../../../src/logging/logger';
import { HttpBrowser, IDP_CLIENT, startIdp, type Idp } from '../../helpers/idp';
import { LogCapture, freePort } from '../../helpers/servers';

describe('browser sign-in in an embedding Express app', () => {
  let idp: Idp;
  let gate: Authgate;
  let server: Server;
  let publicUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    idp = await startIdp({ publicUrls: [publicUrl], accounts: { carol: { groups: ['staff'] } } });
    gate = await createAuthgate(
      {
        auth: {
          oidc: {
            issuer: idp.issuer,
            clientId: IDP_CLIENT.clientId,
            clientSecret: IDP_CLIENT.clientSecret,
            publicUrl,
            session: { cookieSecure: false },
            groupScopes: { map: { staff: ['reports:read'] } },
          },
        },
      },
      { logger: createLogger({ level: 'info', stream: new LogCapture() }) },
    );
    const app = express();
    app.use(gate.express());
    app.get(
      '/reports',
      gate.authenticate({ scopes: ['reports:read'], login: 'browser' }),
      (req, res) => {
        res.json({
          user: req.authgate?.principal?.userId,
          method: req.authgate?.principal?.authMethod,
        });
      },
    );
    app.get('/api', gate.authenticate({ scopes: ['reports:read'] }), (_req, res) => {
      res.json({ ok: true });
    });
    server = createServer(app);
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await gate?.close();
    await idp?.stop();
  });

  test('a browser is sent to sign in, comes back to the page, and the handler sees the person', async () => {
    const browser = new HttpBrowser();
    const back = await browser.signIn(`${publicUrl}/reports?month=11`, 'carol');
    expect(back.status).toBe(302);
    expect(back.headers.location).toBe('/reports?month=11');
    const page = await browser.request(`${publicUrl}/reports?month=11`);
    expect(page.status).toBe(200);
    expect(JSON.parse(page.body.toString())).toEqual({ user: 'carol', method: 'session' });
    // Without login: browser, the same session authenticates, and a navigation without one is 401.
    expect((await browser.request(`${publicUrl}/api`)).status).toBe(200);
    expect((await new HttpBrowser().request(`${publicUrl}/api`)).status).toBe(401);
  });

  test('an API client gets the typed 401 on the browser page', async () => {
    const res = await new HttpBrowser().request(`${publicUrl}/reports`, {
      headers: { Accept: 'application/json', 'Sec-Fetch-Mode': 'cors' },
    });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error_code: 'AUTH_REQUIRED' });
  });
});
