import type { Config } from '../config/schema';
import { mintToken } from './token';

/** What `npm start` prints: where it listens, a development token, and requests that go through. */
export function printDemoBanner(config: Readonly<Config>, port: number, secret: string): void {
  const base = `http://127.0.0.1:${port}`;
  const token = mintToken({
    secret,
    algorithm: 'HS256',
    issuer: 'authgate-dev',
    audience: 'authgate',
    subject: 'dev-user',
    scope: 'demo:read demo:write',
    tenants: ['demo'],
    ttlSec: 3600,
  });
  const lines = [
    '',
    `authgate is listening on ${base} in front of the embedded demo upstream.`,
    '',
    'Development token (HS256, issuer authgate-dev, valid 1 h; the secret is new every run):',
    `  export TOKEN=${token}`,
    '',
    'Try:',
    `  curl -i ${base}/api/hello -H "Authorization: Bearer $TOKEN"   # 200: the upstream echoes X-User-ID`,
    `  curl -i ${base}/api/hello                                      # 401 AUTH_REQUIRED`,
    `  curl -i ${base}/api/hello -H "Authorization: Bearer $TOKEN" -H "X-Tenant-ID: other"   # 403`,
    `  curl -i ${base}/public/hello                                   # route "public": auth none`,
    `  curl -i ${base}${config.server.healthPath}`,
    '',
    'Stop with Ctrl-C (drains in-flight requests first).',
    '',
  ];
  console.log(lines.join('\n'));
}
