import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configReference } from '../../../src/config/reference';

describe('docs/configuration.md', () => {
  it('is the reference generated from the schema (run `npm run docs:config`)', () => {
    const onDisk = readFileSync(join(__dirname, '../../../docs/configuration.md'), 'utf8');
    expect(onDisk).toBe(configReference());
  });

  it.each([
    'server.port',
    'server.trustedProxies',
    'server.internalNetworks',
    'server.shutdownGraceMs',
    'server.headersTimeoutMs',
    'server.healthPath',
    'server.readyPath',
    'metrics.port',
    'metrics.path',
    'logging.level',
    'redis.url',
    'auth.jwt.clockToleranceSec',
    'auth.jwt.maxLifetimeSec',
    'auth.jwt.issuers[].issuer',
    'auth.jwt.issuers[].audience',
    'auth.jwt.issuers[].algorithms',
    'auth.jwt.issuers[].jwksUri',
    'auth.jwt.issuers[].claims.userId',
    'auth.apiKeys.prefixes',
    'auth.apiKeys.validateUrl',
    'auth.apiKeys.cacheTtlSec',
    'auth.apiKeys.negativeCacheTtlSec',
    'routes[].name',
    'routes[].prefix',
    'routes[].stripPrefix',
    'routes[].upstream',
    'routes[].auth',
    'routes[].scopes',
    'routes[].tenantHeader',
    'routes[].timeouts.connectMs',
    'routes[].rateLimit.requestsPerMinute',
  ])('documents the docs/design.md#configuration key %s', (key) => {
    expect(configReference()).toContain(`| \`${key}\` |`);
  });
});
