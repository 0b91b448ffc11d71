import type { Config } from '../config/schema';

/** What `npm start` prints: where it listens and a request that goes through. */
export function printDemoBanner(config: Readonly<Config>, port: number): void {
  const base = `http://127.0.0.1:${port}`;
  const lines = [
    '',
    `authgate is listening on ${base} in front of the embedded demo upstream.`,
    '',
    'Try:',
    `  curl -i ${base}${config.server.healthPath}`,
    `  curl -i ${base}/public/hello          # route "public": auth none`,
    `  curl -i ${base}/api/hello             # route "api": 401 without a token`,
    '',
    'Stop with Ctrl-C (drains in-flight requests first).',
    '',
  ];
  console.log(lines.join('\n'));
}
