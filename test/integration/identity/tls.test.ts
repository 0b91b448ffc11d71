/**
 * The HTTPS listener and client certificates, with openssl-made CAs and certificates and curl as
 * the TLS client: SPIFFE identities as principals (allow patterns, scopes per identity), a
 * certificate from another CA refused, and the listener's certificate rotated without a restart.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { ManualClock } from '../../helpers/manual-clock';
import { makePki, type Pki } from '../../helpers/pki';
import {
  pairs,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';

interface Curl {
  status: number;
  body: string;
}

function curl(url: string, args: string[]): Promise<Curl> {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', ...args, url], (_err, stdout) => {
      const at = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) });
    });
  });
}

/** The serial number of the certificate the listener presents. */
function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { port, host: '127.0.0.1', ca: readFileSync(ca), servername: 'localhost' },
      () => {
        const serial = socket.getPeerCertificate().serialNumber;
        socket.end();
        resolve(serial);
      },
    );
    socket.on('error', reject);
  });
}

describe('the HTTPS listener and client certificates', () => {
  let pki: Pki;
  let upstream: TestUpstream;
  let proxy: TestProxy;
  const clock = new ManualClock();
  let certFile: string;
  let keyFile: string;
  const SA = 'spiffe://prod.example/ns/ml/sa';

  beforeAll(async () => {
    pki = makePki();
    const server = pki.issue('server', {
      cn: 'localhost',
      san: 'DNS:localhost,IP:127.0.0.1',
      server: true,
    });
    certFile = join(pki.dir, 'live.pem');
    keyFile = join(pki.dir, 'live.key');
    copyFileSync(server.cert, certFile);
    copyFileSync(server.key, keyFile);
    upstream = await startUpstream();
    proxy = await startProxy(
      {
        server: {
          tls: {
            certFile,
            keyFile,
            clientCaFile: pki.ca.cert,
            clientCert: 'optional',
            reloadIntervalMs: 1000,
          },
        },
        auth: {
          failedAuthGuard: { maxFailures: 0 },
          clientCert: {
            principalFrom: 'uriSan',
            allow: [`${SA}/*`],
            scopes: { [`${SA}/trainer`]: ['mlflow:edit'] },
            defaultScopes: ['mlflow:read'],
          },
        },
        routes: [
          {
            name: 'read',
            prefix: '/read',
            upstream: upstream.url,
            auth: 'required',
            scopes: ['mlflow:read'],
          },
          {
            name: 'edit',
            prefix: '/edit',
            upstream: upstream.url,
            auth: 'required',
            scopes: ['mlflow:edit'],
          },
        ],
      },
      { clock },
    );
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  const url = (path: string) => `https://127.0.0.1:${proxy.port}${path}`;
  const client = (name: string, san: string, ca?: { cert: string; key: string }) => {
    const c = pki.issue(name, { cn: name, san, ca });
    return ['--cacert', pki.ca.cert, '--cert', c.cert, '--key', c.key];
  };

  test('HTTPS with the CA-signed certificate; without a client certificate or credential: 401', async () => {
    const res = await curl(url('/read/x'), ['--cacert', pki.ca.cert]);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error_code: 'AUTH_REQUIRED' });
  });

  test('a SPIFFE client certificate is the principal; scopes per identity', async () => {
    const trainer = client('trainer', `URI:${SA}/trainer`);
    const before = upstream.seen.length;
    expect((await curl(url('/read/x'), trainer)).status).toBe(200);
    expect(pairs(upstream.seen[before]!.rawHeaders)).toContainEqual(['X-User-ID', `${SA}/trainer`]);
    expect((await curl(url('/edit/x'), trainer)).status).toBe(200);
    const viewer = client('viewer', `URI:${SA}/viewer`);
    expect((await curl(url('/read/x'), viewer)).status).toBe(200);
    const edit = await curl(url('/edit/x'), viewer);
    expect(edit.status).toBe(403);
    expect(JSON.parse(edit.body)).toMatchObject({ error_code: 'INSUFFICIENT_SCOPE' });
  });

  test.each<[string, () => string[], string]>([
    [
      'another namespace',
      () => client('other-ns', 'URI:spiffe://prod.example/ns/web/sa/app'),
      'client_cert_not_allowed',
    ],
    [
      'a nested path the pattern does not reach',
      () => client('nested', `URI:${SA}/a/b`),
      'client_cert_not_allowed',
    ],
    ['no URI SAN', () => client('dns-only', 'DNS:app.internal'), 'client_cert_no_identity'],
    [
      'another CA',
      () => client('foreign', `URI:${SA}/trainer`, pki.otherCa()),
      'client_cert_unverified',
    ],
  ])('%s is refused with 401 and nothing reaches the upstream', async (_w, args, reason) => {
    const before = upstream.seen.length;
    const res = await curl(url('/read/x'), args());
    expect(res.status).toBe(401);
    expect(upstream.seen.length).toBe(before);
    const audit = proxy.logs
      .entries()
      .reverse()
      .find((e) => e.type === 'audit');
    expect(audit).toMatchObject({ reason });
  });

  test('the certificate is rotated without a restart; a bad new one keeps the current one', async () => {
    const first = await servedSerial(proxy.port, pki.ca.cert);
    const next = pki.issue('server-next', {
      cn: 'localhost',
      san: 'DNS:localhost,IP:127.0.0.1',
      server: true,
    });
    copyFileSync(next.key, keyFile);
    copyFileSync(next.cert, certFile);
    await clock.advance(1000);
    await waitFor(
      'the new certificate',
      async () => (await servedSerial(proxy.port, pki.ca.cert)) !== first,
    );
    expect(proxy.logs.entries().some((e) => e.message === 'tls certificate reloaded')).toBe(true);
    const served = await servedSerial(proxy.port, pki.ca.cert);
    writeFileSync(certFile, 'not a certificate');
    await clock.advance(1000);
    await waitFor('the error line', () =>
      proxy.logs
        .entries()
        .some((e) => e.message === 'tls reload failed; the current certificate keeps serving'),
    );
    expect(await servedSerial(proxy.port, pki.ca.cert)).toBe(served);
  });
});
