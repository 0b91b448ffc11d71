import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile } from '../../../src/config/load';

const DIR = join(__dirname, '../../../config/examples');

describe('config/examples', () => {
  it.each(readdirSync(DIR).filter((f) => f.endsWith('.yaml')))(
    '%s is a valid config with its defaults and the secrets the platform supplies',
    (file) => {
      const config = loadConfigFile(join(DIR, file), {
        JWT_SECRET: 'x'.repeat(32),
        AUTHGATE_HASH_SECRET: 'h'.repeat(32),
        REDIS_URL: 'redis://redis:6379',
        OIDC_CLIENT_SECRET: 'client-secret',
      });
      expect(config.routes.length).toBeGreaterThan(0);
    },
  );

  it('registry-gateway.yaml sends authgate’s own credential to the registry', () => {
    const config = loadConfigFile(join(DIR, 'registry-gateway.yaml'), {});
    const registry = config.routes.find((r) => r.name === 'registry');
    expect(registry?.upstreamAuth.mode).toBe('service');
    expect(registry?.upstreamAuth.providers.map((p) => p.type)).toEqual(['command', 'file', 'env']);
    expect(registry?.upstreamAuth.tokenExchange.realms).toEqual([
      'https://myreg.azurecr.io/oauth2/token',
    ]);
  });
});
