/**
 * Every call authgate makes on its own goes through one client with one policy: redirects are
 * never followed (the OAuth2 client-credentials provider followed them), userinfo in a URL is
 * refused before anything is sent, and the whole call has a deadline.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { outbound } from '../../../src/outbound';
import { oauth2Provider } from '../../../src/upstream-credentials/oauth2-provider';
import { ManualClock } from '../../helpers/manual-clock';

describe('outbound calls: one policy', () => {
  let server: Server;
  let base: string;
  const hits: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/redirect') {
        res.writeHead(302, { Location: `${base}/elsewhere`, 'Content-Length': '0' }).end();
      } else if (req.url === '/slow') {
        // Never answers: the deadline must end the call.
      } else {
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end('{"access_token":"t","expires_in":60}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('a redirect is never followed', async () => {
    await expect(outbound(`${base}/redirect`, { timeoutMs: 2000 })).rejects.toThrow();
    expect(hits).not.toContain('/elsewhere');
  });

  it('userinfo in the URL is refused before anything is sent', async () => {
    const before = hits.length;
    const url = `http://user:pass@127.0.0.1:${new URL(base).port}/x`;
    await expect(outbound(url, { timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'OUTBOUND_REFUSED',
    });
    expect(hits.length).toBe(before);
  });

  it('the deadline ends a call that gets no answer', async () => {
    await expect(outbound(`${base}/slow`, { timeoutMs: 200 })).rejects.toThrow();
  });

  it('the OAuth2 client-credentials provider does not follow a redirect from its token endpoint', async () => {
    const provider = oauth2Provider(
      {
        type: 'oauth2ClientCredentials',
        tokenUrl: `${base}/redirect`,
        clientId: 'client',
        clientSecret: 'secret',
        clientAssertionType: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        timeoutMs: 2000,
      },
      new ManualClock(),
      10_000,
    );
    const result = await provider.get();
    expect(result).toMatchObject({ none: expect.stringMatching(/^no answer/) });
    expect(hits).not.toContain('/elsewhere');
  });
});
