/**
 * Workload identity: the `oauth2ClientCredentials` provider authenticates to the token endpoint
 * with a client assertion read from a file (RFC 7523, as a Kubernetes projected service-account
 * token is used for Entra ID workload identity federation), re-read when it rotates.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../helpers/manual-clock';
import {
  pairs,
  rawRequest,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

describe('oauth2ClientCredentials with a client assertion from a file', () => {
  let tokenEndpoint: Server;
  let upstream: TestUpstream;
  let proxy: TestProxy;
  const clock = new ManualClock();
  const forms: URLSearchParams[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'authgate-wi-'));
  const assertionFile = join(dir, 'token');

  beforeAll(async () => {
    writeFileSync(assertionFile, 'eyJhbGciOiJSUzI1NiJ9.first-projected-token.sig\n');
    tokenEndpoint = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        forms.push(form);
        const ok = req.headers.authorization === undefined && form.get('client_assertion') !== null;
        res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify(
            ok
              ? { access_token: `access-${forms.length}`, expires_in: 120 }
              : { error: 'invalid_client' },
          ),
        );
      });
    });
    await new Promise<void>((r) => tokenEndpoint.listen(0, '127.0.0.1', r));
    upstream = await startUpstream();
    proxy = await startProxy(
      {
        routes: [
          {
            name: 'svc',
            prefix: '/',
            upstream: upstream.url,
            auth: 'none',
            upstreamAuth: {
              mode: 'service',
              providers: [
                {
                  type: 'oauth2ClientCredentials',
                  tokenUrl: `http://127.0.0.1:${(tokenEndpoint.address() as AddressInfo).port}/token`,
                  clientId: 'app-registration-id',
                  clientAssertionFile: assertionFile,
                  scope: 'api://upstream/.default',
                },
              ],
            },
          },
        ],
      },
      { clock },
    );
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
    await new Promise((r) => tokenEndpoint?.close(r));
  });

  const authorizationSeen = async (): Promise<string | undefined> => {
    const before = upstream.seen.length;
    const res = await rawRequest(proxy.url, { path: '/x', headers: ['Host', 'a'] });
    expect(res.status).toBe(200);
    return pairs(upstream.seen[before]!.rawHeaders).find(
      ([n]) => n.toLowerCase() === 'authorization',
    )?.[1];
  };

  test('the token request carries the assertion (no secret), and the upstream gets the access token', async () => {
    expect(await authorizationSeen()).toBe('Bearer access-1');
    const form = forms[0]!;
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'client_credentials',
      scope: 'api://upstream/.default',
      client_id: 'app-registration-id',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: 'eyJhbGciOiJSUzI1NiJ9.first-projected-token.sig',
    });
  });

  test('a rotated assertion is used for the next token, without a restart', async () => {
    writeFileSync(assertionFile, 'eyJhbGciOiJSUzI1NiJ9.rotated-projected-token.sig\n');
    await clock.advance(120_000);
    expect(await authorizationSeen()).toBe('Bearer access-2');
    expect(forms.at(-1)!.get('client_assertion')).toBe(
      'eyJhbGciOiJSUzI1NiJ9.rotated-projected-token.sig',
    );
    expect(proxy.logs.text()).not.toContain('projected-token');
  });
});
