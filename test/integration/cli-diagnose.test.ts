import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startAuthService } from '../helpers/auth-service';
import { rsaKey, startJwksServer } from '../helpers/jwks';
import { runCli, writeConfig } from '../helpers/process';
import { REDIS_URL } from '../helpers/redis';
import { startUpstream } from '../helpers/servers';

describe('authgate diagnose', () => {
  it('reports every dependency; exit 0 when all answer, 1 when one does not', async () => {
    const upstream = await startUpstream();
    const jwks = await startJwksServer([rsaKey()]);
    const service = await startAuthService();
    try {
      const base = {
        redis: { url: REDIS_URL },
        auth: {
          jwt: { issuers: [{ issuer: 'idp', algorithms: ['RS256'], jwksUri: jwks.url }] },
          apiKeys: {
            prefixes: ['hok_live_'],
            validateUrl: service.url,
            hashSecret: 'diag-hash-secret-0123456789abcdef',
          },
        },
      };
      const good = await runCli([
        'diagnose',
        '--config',
        writeConfig({ ...base, routes: [{ name: 'app', prefix: '/', upstream: upstream.url }] }),
      ]);
      expect(good.stdout).toMatch(/ok\s+redis\s+PONG/);
      expect(good.stdout).toMatch(/ok\s+jwks idp\s+1 usable signing key/);
      expect(good.stdout).toMatch(/ok\s+api-key service\s+HTTP 200/);
      expect(good.stdout).toMatch(/ok\s+upstream app\s+HTTP 200/);
      expect(good.code).toBe(0);

      const bad = await runCli([
        'diagnose',
        '--config',
        writeConfig({
          ...base,
          routes: [
            { name: 'app', prefix: '/', upstream: upstream.url },
            { name: 'gone', prefix: '/gone', upstream: 'http://127.0.0.1:1' },
          ],
        }),
      ]);
      expect(bad.stdout).toMatch(/FAIL\s+upstream gone\s+no answer \(ECONNREFUSED\)/);
      expect(bad.stdout).toContain('1 of 5 check(s) failed');
      expect(bad.code).toBe(1);
      expect(bad.stdout + bad.stderr).not.toContain('diag-hash-secret');
    } finally {
      await upstream.close();
      await jwks.close();
      await service.close();
    }
  });

  describe('the answers are checked, not only that something answered', () => {
    const run = (config: Record<string, unknown>, json = false) =>
      runCli(['diagnose', '--config', writeConfig(config), ...(json ? ['--json'] : [])]);
    const apiKeys = (url: string) => ({
      auth: { apiKeys: { prefixes: ['hok_live_'], validateUrl: url, hashSecret: 'd'.repeat(32) } },
      routes: [],
    });

    it.each([
      [
        'valid for a key that cannot exist',
        { status: 200, body: '{"valid":true,"user_id":"u"}' },
        /FAIL\s+api-key service\s+contract: a key that cannot exist was answered valid/,
      ],
      [
        'a 200 that breaks the contract',
        { status: 200, body: '{"valid":"yes"}' },
        /FAIL\s+api-key service\s+contract: field "valid" breaks it/,
      ],
      [
        'a 200 that is not JSON',
        { status: 200, body: '<html>' },
        /FAIL\s+api-key service\s+contract: HTTP 200 without a JSON body/,
      ],
      ['a 500', { status: 500, body: 'boom' }, /FAIL\s+api-key service\s+answered HTTP 500/],
      [
        '404 for the bad key',
        { status: 404, body: '' },
        /ok\s+api-key service\s+HTTP 404 for a bad key \(per contract\)/,
      ],
    ])('auth service answering %s', async (_name, reply, expected) => {
      const service = await startAuthService();
      service.reply = reply;
      try {
        const r = await run({ ...apiKeys(service.url) });
        expect(r.stdout).toMatch(expected);
        expect(r.code).toBe(/^\/ok/.test(String(expected)) ? 0 : 1);
      } finally {
        await service.close();
      }
    });

    it('clock skew against the JWKS server beyond the tolerance fails the check', async () => {
      const key = rsaKey();
      const body = JSON.stringify({
        keys: [{ ...key.publicKey.export({ format: 'jwk' }), kid: key.kid, alg: 'RS256' }],
      });
      const skewed = createServer((_req, res) =>
        res
          .writeHead(200, {
            'Content-Type': 'application/json',
            Date: new Date(Date.now() - 120_000).toUTCString(),
          })
          .end(body),
      );
      await new Promise<void>((r) => skewed.listen(0, '127.0.0.1', r));
      const uri = `http://127.0.0.1:${(skewed.address() as AddressInfo).port}/jwks`;
      try {
        const issuers = [{ issuer: 'skewed', algorithms: ['RS256'], jwksUri: uri }];
        const r = await run({ auth: { jwt: { clockToleranceSec: 30, issuers } }, routes: [] });
        expect(r.stdout).toMatch(
          /FAIL\s+jwks skewed\s+clock skew \+1[12]\d s against the JWKS server \(tolerance 30 s\)/,
        );
        expect(r.code).toBe(1);
        const tolerant = await run({
          auth: { jwt: { clockToleranceSec: 300, issuers } },
          routes: [],
        });
        expect(tolerant.stdout).toMatch(
          /ok\s+jwks skewed\s+1 usable signing key\(s\), clock skew 1[12]\d s/,
        );
      } finally {
        skewed.close();
      }
    });

    it('--json: every check with name, ok and detail', async () => {
      const service = await startAuthService();
      try {
        const r = await run(
          {
            ...apiKeys(service.url),
            routes: [{ name: 'gone', prefix: '/', upstream: 'http://127.0.0.1:1' }],
          },
          true,
        );
        expect(r.code).toBe(1);
        const report = JSON.parse(r.stdout) as {
          ok: boolean;
          failed: number;
          checks: Array<{ name: string; ok: boolean; detail: string }>;
        };
        expect(report).toMatchObject({ ok: false, failed: 1 });
        expect(report.checks).toEqual([
          {
            name: 'api-key service',
            ok: true,
            detail: 'HTTP 200 valid:false for a bad key (per contract)',
          },
          { name: 'upstream gone', ok: false, detail: 'no answer (ECONNREFUSED)' },
        ]);
      } finally {
        await service.close();
      }
    });
  });
});
