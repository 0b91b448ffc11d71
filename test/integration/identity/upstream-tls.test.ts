/**
 * TLS towards the upstream (`routes[].upstreamTls`): an HTTPS upstream that requires a client
 * certificate (openssl-made CA and certificates), its certificate checked against the route's CA
 * under its own name (`serverName`), and no plaintext fallback when anything is missing.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { makePki, type Pki } from '../../helpers/pki';
import { runCli, writeConfig } from '../../helpers/process';
import { rawRequest, startProxy, type TestProxy } from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';

describe('TLS towards the upstream', () => {
  let pki: Pki;
  let upstream: Server;
  let proxy: TestProxy;
  const seen: string[] = [];

  beforeAll(async () => {
    pki = makePki();
    const server = pki.issue('upstream', {
      cn: 'upstream.internal',
      san: 'DNS:upstream.internal',
      server: true,
    });
    const client = pki.issue('authgate-client', {
      cn: 'authgate',
      san: 'URI:spiffe://prod.example/ns/edge/sa/authgate',
    });
    upstream = createServer(
      {
        cert: readFileSync(server.cert),
        key: readFileSync(server.key),
        ca: readFileSync(pki.ca.cert),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        seen.push((req.socket as TLSSocket).getPeerCertificate().subject?.CN as string);
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('hello over mTLS');
      },
    );
    // A WebSocket upgrade on the same mTLS upstream: 101 only for authgate's certificate.
    upstream.on('upgrade', (req, socket) => {
      seen.push((req.socket as TLSSocket).getPeerCertificate().subject?.CN as string);
      socket.end(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      );
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const tls = {
      caFile: pki.ca.cert,
      certFile: client.cert,
      keyFile: client.key,
      serverName: 'upstream.internal',
    };
    proxy = await startProxy({
      routes: [
        {
          name: 'mtls',
          prefix: '/mtls',
          upstream: url,
          auth: 'none',
          stripPrefix: true,
          upstreamTls: tls,
          ws: true,
        },
        {
          name: 'ws-wrong-name',
          prefix: '/wswrong',
          upstream: url,
          auth: 'none',
          stripPrefix: true,
          upstreamTls: { ...tls, serverName: 'other.internal' },
          ws: true,
        },
        {
          name: 'no-client-cert',
          prefix: '/nocert',
          upstream: url,
          auth: 'none',
          stripPrefix: true,
          upstreamTls: { caFile: pki.ca.cert, serverName: 'upstream.internal' },
        },
        {
          name: 'wrong-name',
          prefix: '/wrongname',
          upstream: url,
          auth: 'none',
          stripPrefix: true,
          upstreamTls: { ...tls, serverName: 'other.internal' },
        },
        { name: 'system-ca', prefix: '/systemca', upstream: url, auth: 'none', stripPrefix: true },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
  });

  const get = (path: string) => rawRequest(proxy.url, { path, headers: ['Host', 'authgate.test'] });

  test('the route presents its client certificate and checks the upstream under serverName', async () => {
    const res = await get('/mtls/x');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('hello over mTLS');
    expect(seen.at(-1)).toBe('authgate');
  });

  test.each([
    ['without a client certificate', '/nocert/x'],
    ['under another server name', '/wrongname/x'],
    ['with the system CAs only', '/systemca/x'],
  ])('%s: 502, never plaintext', async (_w, path) => {
    const before = seen.length;
    const res = await get(path);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error_code: 'UPSTREAM_UNAVAILABLE' });
    expect(seen.length).toBe(before);
  });

  test('check-config refuses upstreamTls on a plain-http upstream, and a certificate without its key', async () => {
    const plain = await runCli([
      'check-config',
      '--config',
      writeConfig({
        routes: [
          {
            name: 'r',
            prefix: '/',
            upstream: 'http://127.0.0.1:1',
            auth: 'none',
            upstreamTls: { caFile: pki.ca.cert },
          },
        ],
      }),
    ]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/routes\[0\]\.upstreamTls: is set but the upstream is not https/);
    const half = await runCli([
      'check-config',
      '--config',
      writeConfig({
        routes: [
          {
            name: 'r',
            prefix: '/',
            upstream: 'https://127.0.0.1:1',
            auth: 'none',
            upstreamTls: { certFile: pki.ca.cert },
          },
        ],
      }),
    ]);
    expect(half.code).toBe(1);
    expect(half.stderr).toMatch(/certFile and keyFile go together/);
  });

  test("a WebSocket upgrade uses the route's upstream TLS too (client certificate, server name)", async () => {
    const upgradeVia = (path: string) =>
      new Promise<number>((resolve) => {
        const req = request({
          host: '127.0.0.1',
          port: proxy.port,
          path,
          headers: {
            Host: 'authgate.test',
            Connection: 'Upgrade',
            Upgrade: 'websocket',
            'Sec-WebSocket-Version': '13',
            'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
          },
        });
        req.on('upgrade', (res, socket) => {
          socket.destroy();
          resolve(res.statusCode ?? 0);
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.end();
      });
    const before = seen.length;
    expect(await upgradeVia('/mtls/socket')).toBe(101);
    expect(seen.slice(before)).toEqual(['authgate']);
    expect(await upgradeVia('/wswrong/socket')).toBe(502);
    expect(seen.length).toBe(before + 1);
  });

  test('a rotated client certificate is read again without a restart: new connections present it', async () => {
    // The route starts with a certificate of another CA (the upstream refuses it), then the
    // files are replaced with one the upstream trusts.
    const other = pki.otherCa();
    const stale = pki.issue('stale', { cn: 'stale', ca: other });
    const fresh = pki.issue('rotated', { cn: 'rotated' });
    const certFile = join(pki.dir, 'rotating.crt');
    const keyFile = join(pki.dir, 'rotating.key');
    copyFileSync(stale.cert, certFile);
    copyFileSync(stale.key, keyFile);
    const url = `https://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const rotating = await startProxy({
      routes: [
        {
          name: 'rotating',
          prefix: '/',
          upstream: url,
          auth: 'none',
          upstreamTls: {
            caFile: pki.ca.cert,
            certFile,
            keyFile,
            serverName: 'upstream.internal',
            reloadIntervalMs: 100,
          },
        },
      ],
    });
    try {
      const call = () =>
        rawRequest(rotating.url, { path: '/x', headers: ['Host', 'authgate.test'] });
      expect((await call()).status).toBe(502);
      copyFileSync(fresh.key, keyFile);
      copyFileSync(fresh.cert, certFile);
      await waitFor('the rotated certificate in use', async () => (await call()).status === 200);
      expect(seen.at(-1)).toBe('rotated');
      expect(rotating.logs.entries().some((e) => e.message === 'upstream tls reloaded')).toBe(true);
    } finally {
      await rotating.close();
    }
  });
});
