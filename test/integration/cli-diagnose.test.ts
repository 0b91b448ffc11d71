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
      expect(bad.stdout).toMatch(/FAIL\s+upstream gone\s+ECONNREFUSED/);
      expect(bad.stdout).toContain('1 of 5 check(s) failed');
      expect(bad.code).toBe(1);
      expect(bad.stdout + bad.stderr).not.toContain('diag-hash-secret');
    } finally {
      await upstream.close();
      await jwks.close();
      await service.close();
    }
  });
});
