/**
 * Authgate embedded in an Express 5 app (docs/design.md#library-api). `gate.express()` serves
 * the configured routes and passes everything else on; `gate.authenticate()` in front of the
 * app's own handlers and of http-proxy-middleware's `createProxyMiddleware()` sets the identity
 * headers and answers failures as typed errors; the adversarial checks of the server hold.
 */
import express from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxyMiddleware } from 'http-proxy-middleware';
import request from 'supertest';
import { createAuthgate, type Authgate } from '../../../src/index';
import { sign } from '../../helpers/jwks';
import { LogCapture, startUpstream, type TestUpstream } from '../../helpers/servers';
import { createLogger } from '../../../src/logging/logger';

const SECRET = 'embedding-test-secret-0123456789abcdefgh';
const token = (sub: string, claims: Record<string, unknown> = {}): string =>
  sign(SECRET, {
    iss: 'embed',
    sub,
    claims: { scope: 'reports:read', tenant_ids: ['t1'], ...claims },
  });

/** The upstream's last request, with its headers by lower-cased name (first value). */
function lastSeen(upstream: TestUpstream): { url: string; headers: Record<string, string> } {
  const seen = upstream.seen.at(-1)!;
  const headers: Record<string, string> = {};
  for (let i = seen.rawHeaders.length - 2; i >= 0; i -= 2)
    headers[seen.rawHeaders[i]!.toLowerCase()] = seen.rawHeaders[i + 1]!;
  return { url: seen.url, headers };
}

describe('authgate embedded in Express 5', () => {
  let upstream: TestUpstream;
  let gate: Authgate;
  let server: Server;
  let base: string;
  const logs = new LogCapture();

  beforeAll(async () => {
    upstream = await startUpstream();
    gate = await createAuthgate(
      {
        auth: {
          jwt: {
            issuers: [{ issuer: 'embed', audience: 'api', algorithms: ['HS256'], secret: SECRET }],
          },
        },
        routes: [
          {
            name: 'proxied',
            prefix: '/proxied',
            stripPrefix: true,
            upstream: upstream.url,
            auth: 'required',
            scopes: ['reports:read'],
          },
        ],
      },
      { logger: createLogger({ level: 'info', stream: logs }) },
    );
    const app = express();
    app.use(gate.express());
    app.get('/own', gate.authenticate({ scopes: ['reports:read'] }), (req, res) => {
      res.json({ user: req.authgate?.principal?.userId, requestId: req.authgate?.requestId });
    });
    app.get('/admin', gate.authenticate({ scopes: ['reports:admin'] }), (_req, res) => {
      res.json({ ok: true });
    });
    app.get('/public', (_req, res) => {
      res.json({ public: true });
    });
    // gate.express() mounted under a path: what it does not take reaches the next handler with
    // req.url as Express made it (relative to the mount)
    const mounted = express.Router();
    mounted.get('/seen', (req, res) => {
      res.json({ url: req.url, originalUrl: req.originalUrl });
    });
    app.use('/mnt', gate.express(), mounted);
    app.use(
      '/svc',
      gate.authenticate({ scopes: ['reports:read'] }),
      createProxyMiddleware({ target: upstream.url }),
    );
    server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await gate.close();
    await upstream.close();
  });

  describe('gate.express(): configured routes, anything else → next()', () => {
    it('a configured route is proxied with the caller identity, Authorization untouched', async () => {
      const t = token('alice');
      const res = await request(base)
        .get('/proxied/report?x=1')
        .set('Authorization', `Bearer ${t}`);
      expect(res.status).toBe(200);
      const seen = lastSeen(upstream);
      expect(seen.url).toBe('/report?x=1');
      expect(seen.headers['x-user-id']).toBe('alice');
      expect(seen.headers.authorization).toBe(`Bearer ${t}`);
      expect(res.headers['x-request-id']).toBe(seen.headers['x-request-id']);
    });
    it('a configured route without a token: 401 AUTH_REQUIRED, typed', async () => {
      const res = await request(base).get('/proxied/report');
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error_code: 'AUTH_REQUIRED', origin: 'proxy' });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="authgate"/);
    });
    it("paths no route claims reach the app's own handlers", async () => {
      expect((await request(base).get('/public')).body).toEqual({ public: true });
    });
    it('mounted under a path, a request it does not take reaches the next handler unchanged', async () => {
      const res = await request(base).get('/mnt/seen?q=1');
      expect(res.body).toEqual({ url: '/seen?q=1', originalUrl: '/mnt/seen?q=1' });
    });
    it('a path authgate cannot normalise is refused, not passed on', async () => {
      const res = await request(base).get('/proxied%2F..%2Fpublic');
      expect(res.status).toBe(400);
      expect(res.body.error_code).toBe('BAD_REQUEST');
    });
  });

  describe('gate.authenticate() in front of an own handler', () => {
    it('sets req.authgate with the principal and request id', async () => {
      const res = await request(base)
        .get('/own')
        .set('Authorization', `Bearer ${token('bob')}`)
        .set('X-Request-ID', 'embed-req-1');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ user: 'bob', requestId: 'embed-req-1' });
      expect(res.headers['x-request-id']).toBe('embed-req-1');
    });
    it.each([
      ['no credential', {}, 401, 'AUTH_REQUIRED'],
      ['a tampered token', { Authorization: `Bearer ${token('eve')}x` }, 401, 'TOKEN_INVALID'],
      [
        'a spoofed X-User-ID',
        { Authorization: `Bearer ${token('eve')}`, 'X-User-ID': 'admin' },
        403,
        'IDENTITY_MISMATCH',
      ],
      [
        'another tenant',
        { Authorization: `Bearer ${token('eve')}`, 'X-Tenant-ID': 't2' },
        403,
        'TENANT_FORBIDDEN',
      ],
      [
        'an underscore spelling of X-User-ID',
        { Authorization: `Bearer ${token('eve')}`, X_User_ID: 'eve' },
        400,
        'BAD_REQUEST',
      ],
    ])('%s → %i %s', async (_name, headers, status, code) => {
      const res = await request(base)
        .get('/own')
        .set(headers as Record<string, string>);
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ error_code: code, status, origin: 'proxy' });
      expect(JSON.stringify(res.body)).not.toContain(token('eve'));
    });
    it('a missing scope → 403 INSUFFICIENT_SCOPE, audited with the route label', async () => {
      const res = await request(base)
        .get('/admin')
        .set('Authorization', `Bearer ${token('carol')}`);
      expect(res.status).toBe(403);
      expect(res.body.error_code).toBe('INSUFFICIENT_SCOPE');
      const audit = logs.entries().find((l) => l.type === 'audit' && l.user_id === 'carol');
      expect(audit).toMatchObject({ decision: 'deny', route: 'embedded', reason: 'missing_scope' });
    });
  });

  describe('gate.authenticate() → createProxyMiddleware()', () => {
    it('the upstream gets X-User-ID from the principal, X-Request-ID, and the Authorization as sent', async () => {
      const t = token('dave');
      const res = await request(base).get('/svc/data').set('Authorization', `Bearer ${t}`);
      expect(res.status).toBe(200);
      const seen = lastSeen(upstream);
      expect(seen.headers['x-user-id']).toBe('dave');
      expect(seen.headers.authorization).toBe(`Bearer ${t}`);
      expect(seen.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
    it('nothing reaches the upstream without a valid token', async () => {
      const before = upstream.seen.length;
      const res = await request(base).get('/svc/data').set('X-User-ID', 'admin');
      expect(res.status).toBe(401);
      expect(res.body.error_code).toBe('AUTH_REQUIRED');
      expect(upstream.seen.length).toBe(before);
    });
    it('a spoofed X-User-ID never reaches the upstream', async () => {
      const before = upstream.seen.length;
      const res = await request(base)
        .get('/svc/data')
        .set('Authorization', `Bearer ${token('dave')}`)
        .set('X-User-ID', 'admin');
      expect(res.status).toBe(403);
      expect(res.body.error_code).toBe('IDENTITY_MISMATCH');
      expect(upstream.seen.length).toBe(before);
    });
  });
});
