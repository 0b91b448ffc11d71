/**
 * Route selection ignores case: behind a case-insensitive upstream (Express routes this way by
 * default; so do ASP.NET and IIS) `GET /ADMIN/users` is decided by the `/admin` route, never
 * by a public catch-all — in `serve` and in `gate.express()`. A path whose `;` parameters would
 * select another route once a Tomcat/Spring upstream drops them is refused.
 */
import express from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuthgate, type Authgate } from '../../../src/index';
import { createLogger } from '../../../src/logging/logger';
import { sign } from '../../helpers/jwks';
import { LogCapture, rawRequest, startProxy, type TestProxy } from '../../helpers/servers';

const SECRET = 'route-selection-case-secret-0123456789ab';
const admin = (): string =>
  sign(SECRET, { iss: 'idp', sub: 'root', claims: { scope: 'admin', tenant_ids: [] } });

/** A real Express app as the upstream: its routing is case-insensitive. */
async function expressUpstream(): Promise<{ url: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const app = express();
  app.get('/admin/users', (req, res) => {
    hits.push(req.url);
    res.json({ users: ['root'] });
  });
  app.use((req, res) => {
    res.json({ public: req.url });
  });
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server };
}

const config = (upstream: string) => ({
  auth: {
    failedAuthGuard: { maxFailures: 0 },
    jwt: { issuers: [{ issuer: 'idp', algorithms: ['HS256'], secret: SECRET }] },
  },
  routes: [
    { name: 'admin', prefix: '/admin', upstream, auth: 'required', scopes: ['admin'] },
    { name: 'public', prefix: '/', upstream, auth: 'none' },
  ],
});

const cases: Array<[string, number]> = [
  ['/ADMIN/users', 401],
  ['/Admin/Users', 401],
  ['/aDmIn/users', 401],
  ['/admin;jsessionid=1/users', 400],
  ['/ADMIN;x/users', 400],
  ['/public;x=/admin/users', 200],
];

describe.each(['serve', 'gate.express()'])('%s: route selection ignores case', (mode) => {
  let upstream: Awaited<ReturnType<typeof expressUpstream>>;
  let proxy: TestProxy | undefined;
  let gate: Authgate | undefined;
  let server: Server | undefined;
  let base: string;

  beforeAll(async () => {
    upstream = await expressUpstream();
    if (mode === 'serve') {
      proxy = await startProxy(config(upstream.url));
      base = proxy.url;
    } else {
      gate = await createAuthgate(config(upstream.url), {
        logger: createLogger({ level: 'error', stream: new LogCapture() }),
      });
      const app = express();
      app.use(gate.express());
      server = createServer(app);
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
  });
  afterAll(async () => {
    await proxy?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server!.close(r));
    }
    await gate?.close();
    upstream.server.closeAllConnections();
    await new Promise((r) => upstream.server.close(r));
  });

  it.each(cases)('anonymous %s → %s; the admin handler is never reached', async (path, status) => {
    const before = upstream.hits.length;
    const res = await rawRequest(base, { path, headers: ['Host', 'api.example'] });
    expect(res.status).toBe(status);
    expect(upstream.hits.length).toBe(before);
  });

  it('with the admin scope, /ADMIN/users reaches the admin handler, the path as sent', async () => {
    const res = await rawRequest(base, {
      path: '/ADMIN/users',
      headers: ['Host', 'api.example', 'Authorization', `Bearer ${admin()}`],
    });
    expect(res.status).toBe(200);
    expect(upstream.hits.at(-1)).toBe('/ADMIN/users');
  });

  it('a ";" parameter that would select another route once dropped is refused, even with a credential', async () => {
    const res = await rawRequest(base, {
      path: '/admin;x/users',
      headers: ['Host', 'api.example', 'Authorization', `Bearer ${admin()}`],
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString()).error_code).toBe('BAD_REQUEST');
    // Parameters that leave the route as it is are decided as usual.
    const same = await rawRequest(base, { path: '/adm;x/in', headers: ['Host', 'api.example'] });
    expect(same.status).toBe(200);
  });
});
